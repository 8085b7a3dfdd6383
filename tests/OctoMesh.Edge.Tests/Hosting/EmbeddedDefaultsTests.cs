using OctoMesh.Edge.Hosting;
using OctoMesh.Routing;
using OctoMesh.Routing.Configuration;
using OctoMesh.Edge.Pipeline;

namespace OctoMesh.Edge.Tests.Hosting;

public class EmbeddedDefaultsTests
{
    [Fact]
    public void EverythingGoesToTheSimulatorWithoutKeys()
    {
        var config = EmbeddedDefaults.Create(_ => null);
        Assert.Equal(["sim"], config.Providers.Keys);
        Assert.True(GatewayRuntime.NeedsInProcessSimulator(config));
        var table = ModelAliasTable.Compile(config);
        Assert.True(table.TryResolve("anything-at-all", out var target));
        Assert.Equal("sim", table.Providers[target.ProviderIndex]);
        Assert.True(config.ClientKeys.IsEmpty);
    }

    [Fact]
    public void ProviderKeysInTheEnvironmentAddRealProviders()
    {
        var environment = new Dictionary<string, string> { ["OPENAI_API_KEY"] = "o", ["ANTHROPIC_API_KEY"] = "a", ["GEMINI_API_KEY"] = "g" };
        var config = EmbeddedDefaults.Create(name => environment.GetValueOrDefault(name));
        var table = ModelAliasTable.Compile(config);
        foreach (var (model, provider) in new[] { ("gpt-4o", "openai"), ("o3-mini", "openai"), ("claude-sonnet-4", "anthropic"), ("gemini-2.5-flash", "gemini"), ("llama3", "sim") })
        {
            Assert.True(table.TryResolve(model, out var target));
            Assert.Equal(provider, table.Providers[target.ProviderIndex]);
        }
        Assert.Equal(ProviderKind.Gemini, config.Providers["gemini"].Kind);
    }
}
