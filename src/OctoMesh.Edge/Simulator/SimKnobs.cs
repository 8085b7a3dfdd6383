using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace OctoMesh.Edge.Simulator;

/// <summary>Faults the simulator injects on request.</summary>
internal enum SimFault
{
    None,
    /// <summary>429 with <c>retry-after</c>.</summary>
    RateLimited,
    /// <summary>500 server_error.</summary>
    ServerError,
    /// <summary>503 overloaded.</summary>
    Overloaded,
    /// <summary>The connection is reset before the first byte.</summary>
    Reset,
    /// <summary>The body (stream or JSON) is cut after <see cref="SimKnobs.CutAfter"/> chunks.</summary>
    Cut,
}

/// <summary>
/// Per-request knobs, read from <c>x-sim-*</c> request headers (docs/simulator.md), over the model's
/// own delays.
/// </summary>
internal readonly record struct SimKnobs(
    int TimeToFirstTokenMs, int TimePerTokenMs, int? Tokens, bool Echo, SimFault Fault, int RetryAfterSeconds, int CutAfter,
    int CachedTokens, int ReasoningTokens)
{
    public static SimKnobs From(IHeaderDictionary headers, SimulatedModel model)
    {
        var fault = SimFault.None;
        var cutAfter = 0;
        var faultText = headers["x-sim-fault"].ToString();
        switch (faultText)
        {
            case "": break;
            case "429": fault = SimFault.RateLimited; break;
            case "500": fault = SimFault.ServerError; break;
            case "503": fault = SimFault.Overloaded; break;
            case "reset": fault = SimFault.Reset; break;
            default:
                if (faultText.StartsWith("cut:", StringComparison.Ordinal) && int.TryParse(faultText.AsSpan(4), CultureInfo.InvariantCulture, out cutAfter))
                {
                    fault = SimFault.Cut;
                }
                break;
        }
        return new SimKnobs(
            Int(headers, "x-sim-ttft-ms") ?? model.TimeToFirstTokenMs,
            Int(headers, "x-sim-tpot-ms") ?? model.TimePerTokenMs,
            Int(headers, "x-sim-tokens"),
            headers["x-sim-echo"] == "1",
            fault,
            Int(headers, "x-sim-retry-after") ?? 1,
            cutAfter,
            Int(headers, "x-sim-cached-tokens") ?? 0,
            Int(headers, "x-sim-reasoning-tokens") ?? 0);
    }

    private static int? Int(IHeaderDictionary headers, string name) =>
        int.TryParse(headers[name].ToString(), CultureInfo.InvariantCulture, out var value) && value >= 0 ? value : null;
}
