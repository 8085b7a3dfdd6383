using OctoMesh.Edge.Hosting;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Cli;

/// <summary>What <c>octomesh serve</c> prints once it listens: where, what it serves, and a line to try.</summary>
internal static class Banner
{
    public static void Print(TextWriter output, GatewayServer server, GatewayConfig config, bool isEmbeddedDefault)
    {
        var management = new ManagementListener([], config.Metrics.Urls);
        var addresses = server.Addresses.Select(a => a.ToString().TrimEnd('/')).ToLookup(management.Owns);
        var address = addresses[false].First();
        output.WriteLine($"OctoMesh Edge {OctoMeshCommands.VersionText} listening on {string.Join(", ", addresses[false])}");
        if (management.IsEnabled)
        {
            output.WriteLine($"  /metrics, /healthz and /readyz only on {string.Join(", ", addresses[true])}");
        }
        foreach (var provider in config.Providers.Values.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var where = provider.BaseUrl?.ToString() ?? $"built-in simulator at {server.Simulator?.OpenAIBaseUrl}";
            output.WriteLine($"  provider {provider.Name}: {where}");
        }
        // Keys come from the file and from the admin API's store (data/tenancy by default).
        var keys = ((Tenancy.TenancyStore)server.Services.GetService(typeof(Tenancy.TenancyStore))!).View(config).Keys.IsEnabled || config.Tenancy.RequireKeys;
        if (isEmbeddedDefault)
        {
            output.WriteLine($"  WARNING: no --config given. Answers from the 'sim' provider are SIMULATED{(keys ? "" : ", and authentication is OFF")}.");
        }
        else if (!keys)
        {
            output.WriteLine("  WARNING: no client keys configured: authentication is OFF.");
        }
        var auth = keys ? " -H 'authorization: Bearer $OCTOMESH_KEY'" : "";
        output.WriteLine("  Try:");
        output.WriteLine($"    curl -s {address}/v1/chat/completions -H 'content-type: application/json'{auth} -d '{{\"model\":\"sim-small\",\"messages\":[{{\"role\":\"user\",\"content\":\"What is 6 * 7?\"}}]}}'");
        output.Flush();
    }
}
