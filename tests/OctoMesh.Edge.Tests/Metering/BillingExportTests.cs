using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Telemetry;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Metering;

public sealed class BillingExportTests : IDisposable
{
    private static readonly DateTimeOffset s_day = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"octomesh-export-{Guid.NewGuid():N}");
    private readonly string _output;

    public BillingExportTests() => _output = Path.Combine(_directory, "out", "billing.csv");

    /// <summary>Writes records through a real trace log: <paramref name="count"/> of them, alternating workspaces, one per hour from <paramref name="first"/>.</summary>
    private async Task WriteAsync(int count, int first = 0)
    {
        var metrics = new GatewayMetrics();
        await using var log = new TraceLog(new TraceConfig(Directory: _directory, CommitMs: 1), metrics, NullLogger.Instance);
        for (var i = first; i < first + count; i++)
        {
            var trace = new PendingTrace
            {
                Record = new TraceRecord
                {
                    Status = 200, StartUnixMicros = s_day.AddHours(i).ToUnixTimeMilliseconds() * 1000, PromptTokens = 10, CompletionTokens = 5,
                    CostMicros = 1_000_001 + i, TotalMicros = 1500,
                },
                Workspace = i % 2 == 0 ? "team-a" : "team,b", Route = "chat", Provider = "sim", Model = "sim-small",
            };
            log.Append(ref trace);
        }
    }

    private string Export(ExportFormat format, DateTimeOffset? from = null, DateTimeOffset? to = null, params string[] groupBy)
    {
        using var reader = TraceReader.Open(_directory);
        using var output = new MemoryStream();
        BillingExport.Export(reader, output, format, from, to, groupBy);
        return Encoding.UTF8.GetString(output.ToArray());
    }

    [Fact]
    public async Task EveryRecordIsARowWithItsNames()
    {
        await WriteAsync(3);
        var lines = Export(ExportFormat.Csv).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("id,request_id_hash,start,workspace,key,route,provider,model,task,operation,status,stream,hedged,outcome,prompt_tokens,", lines[0]);
        Assert.Matches("^[0-9a-f]{32},[0-9a-f]{16},2026-11-20T00:00:00.000000Z,team-a,,chat,sim,sim-small,,chat,200,false,false,completed,10,5,0,0,0,1000001,0,1500,0,0,0$", lines[1]);
        Assert.Contains(",\"team,b\",", lines[2]);

        var json = Export(ExportFormat.Jsonl).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, json.Count);
        Assert.Equal("team,b", json[1].GetProperty("workspace").GetString());
        Assert.Equal(1_000_002, json[1].GetProperty("cost_micros").GetInt64());
        Assert.Equal(json.Select(j => j.GetProperty("id").GetString()).Distinct().Count(), json.Count);
    }

    [Fact]
    public async Task GroupsTotalEachWorkspaceModelAndDayWithinTheRange()
    {
        await WriteAsync(30);   // 30 hours from 2026-11-20T00:00
        var csv = Export(ExportFormat.Csv, s_day.AddHours(2), s_day.AddHours(28), "workspace", "day").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
        [
            "workspace,day,requests,prompt_tokens,completion_tokens,cached_tokens,cache_write_tokens,reasoning_tokens,cost_micros,cost_usd",
            // Hours 2..23 of the 20th: even ones are team-a (2,4,…,22: 11), odd team,b (3,…,23: 11); hours 24..27 are the 21st
            // (24 and 26 team-a, 25 and 27 team,b). Hour h costs 1,000,001 + h.
            $"\"team,b\",2026-11-20,11,110,55,0,0,0,{Enumerable.Range(2, 22).Where(h => h % 2 == 1).Sum(h => 1_000_001L + h)},{UsageReport.Usd(Enumerable.Range(2, 22).Where(h => h % 2 == 1).Sum(h => 1_000_001L + h))}",
            "\"team,b\",2026-11-21,2,20,10,0,0,0,2000054,2.000054",
            $"team-a,2026-11-20,11,110,55,0,0,0,{Enumerable.Range(2, 22).Where(h => h % 2 == 0).Sum(h => 1_000_001L + h)},{UsageReport.Usd(Enumerable.Range(2, 22).Where(h => h % 2 == 0).Sum(h => 1_000_001L + h))}",
            "team-a,2026-11-21,2,20,10,0,0,0,2000052,2.000052",
        ], csv);
        Assert.Equal("11.000197", UsageReport.Usd(11_000_197));
        Assert.Equal("0.000005", UsageReport.Usd(5));
    }

    [Fact]
    public async Task AFollowCursorExportsEachRecordOnceAcrossRunsAndCrashes()
    {
        await WriteAsync(5);
        Assert.Equal(5, await FollowAsync());
        Assert.Equal(0, await FollowAsync());   // nothing new: nothing written twice
        await WriteAsync(3, first: 5);
        Assert.Equal(3, await FollowAsync());
        Assert.Equal(9, File.ReadAllLines(_output).Length);   // header + 8

        // A crash after rows reached the file but before the cursor moved: those rows are cut and written again, once.
        await WriteAsync(2, first: 8);
        var before = File.ReadAllText(_output);
        File.AppendAllText(_output, "half a row from a run that died,");
        Assert.Equal(2, await FollowAsync());
        var lines = File.ReadAllLines(_output);
        Assert.Equal(11, lines.Length);
        Assert.StartsWith(before, File.ReadAllText(_output));
        Assert.Equal(10, lines.Skip(1).Select(l => l[..32]).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 10).Sum(i => 1_000_001L + i), lines.Skip(1).Sum(l => long.Parse(l.Split(',')[^6])));
    }

    [Fact]
    public async Task AFollowCursorRefusesAnotherOutputOrATruncatedOne()
    {
        await WriteAsync(2);
        await FollowAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            BillingExport.FollowAsync(_directory, "billing", _output + ".other", ExportFormat.Csv, null, TextWriter.Null, default));
        File.WriteAllText(_output, "");
        Assert.Contains("truncated or replaced", (await Assert.ThrowsAsync<InvalidOperationException>(FollowAsync)).Message);
    }

    private async Task<long> FollowAsync()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_output)!);
        return await BillingExport.FollowAsync(_directory, "billing", _output, ExportFormat.Csv, null, TextWriter.Null, default);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
