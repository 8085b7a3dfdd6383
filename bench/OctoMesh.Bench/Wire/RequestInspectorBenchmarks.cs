using System.Text.Json;
using BenchmarkDotNet.Attributes;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Providers;

namespace OctoMesh.Bench.Wire;

/// <summary>
/// Step 2 of the request path on a 4 KB agent request. Baseline: building a DOM with JsonDocument,
/// which is what a gateway that "just parses the JSON" pays. Aim: the inspector allocates 0 bytes.
/// </summary>
public class RequestInspectorBenchmarks
{
    private readonly byte[] _body = Payloads.ChatRequest4K;
    private readonly BodyEdit[] _edits = new BodyEdit[2];
    private static readonly byte[] s_upstreamModel = "\"gpt-4o-mini\""u8.ToArray();

    [Benchmark(Baseline = true)]
    public int JsonDocumentParse()
    {
        using var document = JsonDocument.Parse(_body);
        return document.RootElement.GetProperty("messages").GetArrayLength();
    }

    [Benchmark]
    public int Inspect()
    {
        RequestInspector.Inspect(_body, ApiOperation.ChatCompletions, out var request);
        return request.ItemCount;
    }

    /// <summary>Inspect, then plan the splice (alias → upstream name, include_usage): all the body work a request gets.</summary>
    [Benchmark]
    public int InspectAndPlanSplice()
    {
        RequestInspector.Inspect(_body, ApiOperation.ChatCompletions, out var request);
        return UpstreamBodyPlan.Build(request, s_upstreamModel, askForUsage: true, _edits, out _);
    }
}
