using System.Collections.Immutable;
using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests;

public class ModelAliasTableTests
{
    private static ModelAliasTable Table(params ModelConfig[] models)
    {
        var timeouts = TimeoutsConfig.Default;
        return ModelAliasTable.Compile(new GatewayConfig
        {
            Providers = ImmutableDictionary.CreateRange(new Dictionary<string, ProviderConfig>
            {
                ["b-openai"] = new("b-openai", ProviderKind.OpenAI, new Uri("https://api.openai.com/v1"), "k", UpstreamHttpVersion.Http11, timeouts),
                ["a-sim"] = new("a-sim", ProviderKind.Sim, null, null, UpstreamHttpVersion.Http11, timeouts),
            }),
            Models = [.. models],
        });
    }

    [Fact]
    public void ExactAliasBeatsLongerPrefixBeatsShorterPrefixBeatsStar()
    {
        var table = Table(
            new("*", "a-sim", null),
            new("gpt-*", "a-sim", "generic"),
            new("gpt-4o-*", "b-openai", null),
            new("gpt-4o-mini", "a-sim", "exact"));

        Assert.True(table.TryResolve("gpt-4o-mini", out var exact));
        Assert.Equal("exact", exact.UpstreamModel);
        Assert.True(table.TryResolve("gpt-4o-audio", out var longer));
        Assert.Equal(table.Providers.IndexOf("b-openai"), longer.ProviderIndex);
        Assert.Null(longer.UpstreamModel);
        Assert.True(table.TryResolve("gpt-3.5", out var shorter));
        Assert.Equal("generic", shorter.UpstreamModel);
        Assert.True(table.TryResolve("llama", out var star));
        Assert.Equal(table.Providers.IndexOf("a-sim"), star.ProviderIndex);
    }

    [Fact]
    public void NoMatchWithoutStar()
    {
        var table = Table(new ModelConfig("fast", "a-sim", null));
        Assert.False(table.TryResolve("slow", out _));
        Assert.False(table.TryResolve("fas", out _));
        Assert.True(table.TryResolve("fast", out _));
    }

    [Fact]
    public void ProvidersAreIndexedInNameOrder()
    {
        Assert.Equal(["a-sim", "b-openai"], Table(new ModelConfig("*", "a-sim", null)).Providers.ToArray());
    }

    [Fact]
    public void UpstreamNameIsReadyAsAJsonToken()
    {
        var table = Table(new ModelConfig("q", "a-sim", "we\"ird/é"));
        Assert.True(table.TryResolve("q", out var target));
        Assert.Equal("\"we\\u0022ird/\\u00E9\"", Encoding.UTF8.GetString(target.UpstreamModelJson!));
    }
}
