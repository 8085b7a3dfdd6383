using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace OctoMesh.Edge.Simulator;

/// <summary>Faults the simulator injects on request.</summary>
internal enum SimFault
{
    None,
    /// <summary>400: the provider refuses the request.</summary>
    BadRequest,
    /// <summary>401: the provider refuses the key.</summary>
    Unauthorized,
    /// <summary>429 with <c>retry-after</c>.</summary>
    RateLimited,
    /// <summary>500 server_error.</summary>
    ServerError,
    /// <summary>503 overloaded.</summary>
    Overloaded,
    /// <summary>The connection is reset before the first byte.</summary>
    Reset,
    /// <summary>The body (stream or JSON) is cut after <see cref="SimKnobs.CutAfter"/> chunks.</summary>
    Cut,
    /// <summary>The stream ends with the provider's own error event after <see cref="SimKnobs.CutAfter"/> chunks.</summary>
    StreamError,
}

/// <summary>
/// Per-request knobs, read from <c>x-sim-*</c> request headers (docs/simulator.md), over the model's
/// own delays.
/// </summary>
internal readonly record struct SimKnobs(
    int TimeToFirstTokenMs, int TimePerTokenMs, int? Tokens, bool Echo, SimFault Fault, int RetryAfterSeconds, int CutAfter,
    int CachedTokens, int ReasoningTokens, int CacheWriteTokens)
{
    public static SimKnobs From(IHeaderDictionary headers, SimulatedModel model)
    {
        var fault = SimFault.None;
        var cutAfter = 0;
        // A model named fail-<fault> always fails so: lets a route's targets fail one by one.
        var faultText = model.Name.StartsWith("fail-", StringComparison.Ordinal) ? model.Name[5..] : headers["x-sim-fault"].ToString();
        switch (faultText)
        {
            case "": break;
            case "400": fault = SimFault.BadRequest; break;
            case "401": fault = SimFault.Unauthorized; break;
            case "429": fault = SimFault.RateLimited; break;
            case "500": fault = SimFault.ServerError; break;
            case "503" or "529": fault = SimFault.Overloaded; break;
            case "reset": fault = SimFault.Reset; break;
            default:
                if (faultText.StartsWith("cut:", StringComparison.Ordinal) && int.TryParse(faultText.AsSpan(4), CultureInfo.InvariantCulture, out cutAfter))
                {
                    fault = SimFault.Cut;
                }
                else if (faultText.StartsWith("stream-error:", StringComparison.Ordinal) && int.TryParse(faultText.AsSpan(13), CultureInfo.InvariantCulture, out cutAfter))
                {
                    fault = SimFault.StreamError;
                }
                break;
        }
        return new SimKnobs(
            Int(headers, "x-sim-ttft-ms") ?? model.TimeToFirstTokenMs,
            Int(headers, "x-sim-tpot-ms") ?? model.TimePerTokenMs,
            Int(headers, "x-sim-tokens"),
            headers["x-sim-echo"] == "1",
            fault,
            Int(headers, "x-sim-retry-after") ?? 1,
            cutAfter,
            Int(headers, "x-sim-cached-tokens") ?? 0,
            Int(headers, "x-sim-reasoning-tokens") ?? 0,
            Int(headers, "x-sim-cache-write-tokens") ?? 0);
    }

    private static int? Int(IHeaderDictionary headers, string name) =>
        int.TryParse(headers[name].ToString(), CultureInfo.InvariantCulture, out var value) && value >= 0 ? value : null;
}
