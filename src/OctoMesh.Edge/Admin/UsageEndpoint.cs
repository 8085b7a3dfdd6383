using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Pipeline;

namespace OctoMesh.Edge.Admin;

/// <summary>
/// <c>GET /admin/usage?workspace=W&amp;from=…&amp;to=…&amp;groupBy=model,day</c>: committed usage and cost from the
/// trace log, for one workspace (or all) and a period of start times [from, to), in total and per group
/// (by model unless <c>groupBy</c> says otherwise). Admin keys only.
/// </summary>
internal sealed class UsageEndpoint(GatewayRuntimeHolder runtimes, RequestMeter meter)
{
    public async Task HandleAsync(HttpContext context)
    {
        if (await AdminAccess.AdmitAsync(runtimes.Current, context) is not { } admin)
        {
            return;
        }
        try
        {
            await AnswerAsync(context);
        }
        finally
        {
            meter.Audit(admin, AuditAction.ReadUsage, context.Request.Query["workspace"].FirstOrDefault(), context.Response.StatusCode, context.TraceIdentifier);
        }
    }

    private async Task AnswerAsync(HttpContext context)
    {
        if (meter.TraceLog is not { } traceLog)
        {
            await OpenAIError.WriteAsync(context.Response, StatusCodes.Status404NotFound,
                "The trace log is disabled (trace.enabled is false), so no usage is kept.", OpenAIError.InvalidRequest, code: "trace_disabled");
            return;
        }
        var query = context.Request.Query;
        var workspace = query["workspace"].FirstOrDefault();
        var groupBy = (query["groupBy"].FirstOrDefault() ?? "model").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (!BillingExport.TryParseTime(query["from"].FirstOrDefault(), out var from) || !BillingExport.TryParseTime(query["to"].FirstOrDefault(), out var to) || groupBy.Any(g => !UsageReport.GroupFields.Contains(g)))
        {
            await OpenAIError.WriteAsync(context.Response, StatusCodes.Status400BadRequest,
                $"from and to are ISO 8601 times (e.g. 2026-11-01); groupBy is any of {string.Join(",", UsageReport.GroupFields)}.",
                OpenAIError.InvalidRequest, code: "invalid_query");
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var reader = TraceReader.Open(traceLog.Directory))
        {
            var report = new UsageReport(reader.Names, ExportFormat.Jsonl);
            var records = BillingExport.StartedIn(reader, from, to)
                .Where(r => workspace is null || report.GroupValue("workspace", r) == workspace)
                .ToList();
            var total = new UsageTotals();
            records.ForEach(r => total.Add(r));

            using var writer = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions);
            writer.WriteStartObject();
            writer.WriteString("workspace", workspace);
            writer.WriteString("from", from?.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("to", to?.ToString("O", CultureInfo.InvariantCulture));
            WriteTotals(writer, "total", total);
            writer.WriteStartArray("groups");
            foreach (var (key, totals) in BillingExport.Group(report, records, groupBy))
            {
                writer.WriteStartObject();
                for (var i = 0; i < groupBy.Length; i++)
                {
                    writer.WriteString(groupBy[i], key[i]);
                }
                WriteTotals(writer, null, totals);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    private static void WriteTotals(Utf8JsonWriter writer, string? name, UsageTotals totals)
    {
        if (name is not null)
        {
            writer.WriteStartObject(name);
        }
        writer.WriteNumber("requests", totals.Requests);
        writer.WriteNumber("promptTokens", totals.PromptTokens);
        writer.WriteNumber("completionTokens", totals.CompletionTokens);
        writer.WriteNumber("cachedTokens", totals.CachedTokens);
        writer.WriteNumber("cacheWriteTokens", totals.CacheWriteTokens);
        writer.WriteNumber("reasoningTokens", totals.ReasoningTokens);
        writer.WriteNumber("costMicros", totals.CostMicros);
        writer.WriteString("costUsd", UsageReport.Usd(totals.CostMicros));
        if (name is not null)
        {
            writer.WriteEndObject();
        }
    }
}
