using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Wire;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Hosting;

/// <summary>
/// <c>metrics.urls</c>: listeners that serve <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> and nothing else, told
/// apart from the API's by their ports, so Prometheus and the kubelet reach a gateway whose API listens on loopback.
/// </summary>
internal sealed class ManagementListener
{
    private readonly FrozenSet<int> _ports;

    /// <param name="api">The API's listen URLs (the configuration's, or <c>--urls</c>).</param>
    /// <exception cref="InvalidOperationException">An API URL has a management listener's port.</exception>
    public ManagementListener(IReadOnlyList<string> api, IReadOnlyList<string> management)
    {
        _ports = management.Select(url => Parse(url).Port).ToFrozenSet();
        if (_ports.Count > 0 && api.FirstOrDefault(url => _ports.Contains(Parse(url).Port)) is { } shared)
        {
            throw new InvalidOperationException($"{shared} has the port of a management listener (metrics.urls); give each its own port.");
        }
    }

    public bool IsEnabled => _ports.Count > 0;

    /// <summary>The address is a management listener's (any of Kestrel's forms: <c>+</c>, <c>*</c>, a host, an IP).</summary>
    public bool Owns(string address) => _ports.Contains(Parse(address).Port);

    /// <summary>404, in the OpenAI format, for anything but the management paths on a management port.</summary>
    public Func<HttpContext, RequestDelegate, Task> Middleware() => (context, next) =>
        _ports.Contains(context.Connection.LocalPort) && !MetricsConfig.IsManagementPath(context.Request.Path.Value ?? "")
            ? OpenAIError.WriteAsync(context.Response, StatusCodes.Status404NotFound, "This listener serves /metrics, /healthz and /readyz only.",
                OpenAIError.InvalidRequest, code: "unknown_url")
            : next(context);

    /// <summary>A listen URL as Kestrel takes it: <c>+</c> and <c>*</c> stand for every address.</summary>
    public static Uri Parse(string address) =>
        new(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal));
}
