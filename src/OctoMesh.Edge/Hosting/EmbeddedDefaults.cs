using System.Collections.Immutable;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Hosting;

/// <summary>
/// The configuration <c>octomesh serve</c> uses when given none: every model name goes to the built-in
/// simulator (started in process), authentication is off, and a real provider is added for each
/// provider key found in the environment: <c>OPENAI_API_KEY</c> (<c>gpt-*</c>, <c>o1*</c>, …),
/// <c>ANTHROPIC_API_KEY</c> (<c>claude-*</c>), <c>GEMINI_API_KEY</c> (<c>gemini-*</c>).
/// </summary>
internal static class EmbeddedDefaults
{
    public const string SimulatorProvider = "sim";

    /// <summary>Model name prefixes that go to OpenAI when OPENAI_API_KEY is set.</summary>
    private static readonly string[] s_openAIPrefixes = ["gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "text-embedding-*"];

    public static GatewayConfig Create(Func<string, string?> environment)
    {
        var providers = ImmutableDictionary.CreateBuilder<string, ProviderConfig>();
        var models = ImmutableArray.CreateBuilder<ModelConfig>();
        providers[SimulatorProvider] = new ProviderConfig(SimulatorProvider, ProviderKind.Sim, null, null, UpstreamHttpVersion.Http11, TimeoutsConfig.Default);

        if (environment("OPENAI_API_KEY") is { Length: > 0 } openAIKey)
        {
            var baseUrl = environment("OPENAI_BASE_URL") is { Length: > 0 } url ? new Uri(url.TrimEnd('/')) : new Uri("https://api.openai.com/v1");
            providers["openai"] = new ProviderConfig("openai", ProviderKind.OpenAI, baseUrl, openAIKey, UpstreamHttpVersion.Http11, TimeoutsConfig.Default);
            models.AddRange(s_openAIPrefixes.Select(prefix => new ModelConfig(prefix, "openai", null)));
        }

        if (environment("ANTHROPIC_API_KEY") is { Length: > 0 } anthropicKey)
        {
            providers["anthropic"] = new ProviderConfig("anthropic", ProviderKind.Anthropic, new Uri("https://api.anthropic.com/v1"), anthropicKey,
                UpstreamHttpVersion.Http11, TimeoutsConfig.Default);
            models.Add(new ModelConfig("claude-*", "anthropic", null));
        }
        if (environment("GEMINI_API_KEY") is { Length: > 0 } geminiKey)
        {
            providers["gemini"] = new ProviderConfig("gemini", ProviderKind.Gemini, new Uri("https://generativelanguage.googleapis.com/v1beta"), geminiKey,
                UpstreamHttpVersion.Http11, TimeoutsConfig.Default);
            models.Add(new ModelConfig("gemini-*", "gemini", null));
        }

        models.AddRange(Simulator.SimulatedModel.Catalogue.Select(m => new ModelConfig(m.Name, SimulatorProvider, null)));
        models.Add(new ModelConfig("*", SimulatorProvider, null));
        return new GatewayConfig { Providers = providers.ToImmutable(), Models = models.ToImmutable() };
    }
}
