using System.CommandLine;
using OctoMesh.Edge.Metering;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Cli;

/// <summary><c>octomesh export</c>: billing rows from the trace log (docs/metering.md, "Billing export").</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var trace = new Option<DirectoryInfo?>("--trace") { Description = "The trace log directory (default: the --config file's trace.directory, else data/trace)." };
        var config = new Option<FileInfo?>("--config") { Description = "The gateway's configuration file, for its trace.directory." };
        var from = new Option<string?>("--from") { Description = "First start time to include, ISO 8601 (UTC unless an offset is given), e.g. 2026-11-01." };
        var to = new Option<string?>("--to") { Description = "Start time to stop before, ISO 8601, e.g. 2026-12-01." };
        var format = new Option<string>("--format") { Description = "csv or jsonl.", DefaultValueFactory = _ => "csv" };
        var groupBy = new Option<string?>("--group-by") { Description = $"Totals per group instead of one row per request: any of {string.Join(",", UsageReport.GroupFields)}." };
        var output = new Option<FileInfo?>("--out") { Description = "The output file (default: standard output)." };
        var follow = new Option<string?>("--follow") { Description = "A cursor name: append every record not yet exported under this name to --out, exactly once, and keep following." };
        var once = new Option<bool>("--once") { Description = "With --follow: stop once every committed record is exported." };
        var audit = new Option<bool>("--audit") { Description = "Export the audit records (admin calls: time, admin, action, workspace, status) instead of billing rows." };
        var command = new Command("export", "Export billing rows (or, with --audit, the admin calls) from the trace log.")
        {
            trace, config, from, to, format, groupBy, output, follow, once, audit,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var directory = parse.GetValue(trace)?.FullName;
            if (directory is null && parse.GetValue(config) is { } file)
            {
                var loaded = ConfigLoader.LoadFile(file.FullName, Environment.GetEnvironmentVariable);
                if (!loaded.Succeeded)
                {
                    OctoMeshCommands.PrintErrors(file.FullName, loaded);
                    return OctoMeshCommands.ConfigInvalid;
                }
                directory = loaded.Config!.Trace.Directory;
            }
            directory ??= TraceConfig.DefaultDirectory;

            if (parse.GetValue(format) is not ("csv" or "jsonl") || !BillingExport.TryParseTime(parse.GetValue(from), out var fromTime) || !BillingExport.TryParseTime(parse.GetValue(to), out var toTime))
            {
                return Usage("--format is csv or jsonl; --from and --to are ISO 8601 times such as 2026-11-01 or 2026-11-01T12:00:00Z");
            }
            var exportFormat = parse.GetValue(format) == "csv" ? ExportFormat.Csv : ExportFormat.Jsonl;
            var groups = (parse.GetValue(groupBy) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (groups.FirstOrDefault(g => !UsageReport.GroupFields.Contains(g)) is { } unknown)
            {
                return Usage($"'{unknown}' is not a group field; use any of {string.Join(",", UsageReport.GroupFields)}");
            }
            try
            {
                if (parse.GetValue(follow) is { } name)
                {
                    if (!IsCursorName(name) || parse.GetValue(output) is not { } followOutput || groups.Length > 0 || fromTime is not null || toTime is not null)
                    {
                        return Usage("--follow NAME (letters, digits, '-', '_') needs --out FILE, and takes no --group-by, --from or --to");
                    }
                    var rows = await BillingExport.FollowAsync(directory, name, followOutput.FullName, exportFormat,
                        parse.GetValue(once) ? null : TimeSpan.FromSeconds(1), Console.Error, cancellationToken);
                    Console.Error.WriteLine($"exported {rows} records to {followOutput.FullName} (cursor '{name}')");
                    return 0;
                }
                using var reader = TraceReader.Open(directory);
                await using var stream = parse.GetValue(output) is { } path ? path.Create() : Console.OpenStandardOutput();
                var written = parse.GetValue(audit)
                    ? BillingExport.ExportAudit(reader, stream, exportFormat, fromTime, toTime)
                    : BillingExport.Export(reader, stream, exportFormat, fromTime, toTime, groups);
                Console.Error.WriteLine($"exported {written} rows");
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"octomesh export: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"octomesh export: {message}");
        return OctoMeshCommands.ConfigInvalid;
    }

    private static bool IsCursorName(string name) => name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
