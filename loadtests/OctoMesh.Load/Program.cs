using System.Globalization;
using OctoMesh.Load;

// octomesh-load: the LLM-aware load driver.
//   octomesh-load --target http://127.0.0.1:8080 --seconds 10 [--users 64 [--requests N] | --rate 500] [--stream 0.5] [--cache 0.3]
//                 [--faults 0.05] [--anthropic 0.2] [--model sim-small] [--tokens 16] [--name chat]
//                 [--slo p99=50ms --slo errors=1%] [--markdown out.md] [--json out.json]
// Exit 1 when an SLO is missed.
var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    (values.TryGetValue(args[i], out var list) ? list : values[args[i]] = []).Add(args[i + 1]);
}
string? One(string name) => values.TryGetValue(name, out var list) ? list[^1] : null;
double Number(string name, double fallback) => One(name) is { } text ? double.Parse(text, CultureInfo.InvariantCulture) : fallback;

if (One("--target") is not { } target)
{
    Console.Error.WriteLine("usage: octomesh-load --target URL [--seconds N] [--users N [--requests N] | --rate R] [--stream S] [--cache S] [--faults S] [--anthropic S] [--slo p99=50ms] [--markdown F] [--json F]");
    return 2;
}
var options = new LoadOptions(new Uri(target.TrimEnd('/') + "/"), TimeSpan.FromSeconds(Number("--seconds", 10)), (int)Number("--users", 16),
    One("--rate") is null ? null : Number("--rate", 0), Number("--stream", 0), Number("--cache", 0), Number("--faults", 0), Number("--anthropic", 0),
    One("--model") ?? "sim-small", (int)Number("--tokens", 16), Environment.GetEnvironmentVariable("OCTOMESH_KEY"),
    One("--requests") is null ? null : (long)Number("--requests", 0));
var slos = (values.GetValueOrDefault("--slo") ?? []).Select(Slo.Parse).ToList();
var name = One("--name") ?? (options.Rate is { } r ? $"open {r}/s" : $"closed {options.Users} users");
var result = await LoadRun.RunAsync(options);
var markdown = Report.Markdown(name, result, slos);
Console.WriteLine(markdown);
if (One("--markdown") is { } md)
{
    await File.AppendAllTextAsync(md, markdown + "\n");
}
if (One("--json") is { } json)
{
    await File.WriteAllTextAsync(json, Report.Json(name, result));
}
return slos.All(s => s.Check(result).Met) ? 0 : 1;
