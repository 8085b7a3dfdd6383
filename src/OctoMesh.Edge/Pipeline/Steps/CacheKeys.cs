using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Wire;

namespace OctoMesh.Edge.Pipeline.Steps;

/// <summary>
/// The exact cache's keys of one request for one target (provider and upstream model): its scope (the workspace,
/// unless shared), the client's API and the shape of answer, over the body's digest made once per request
/// (<see cref="ExactCacheKey"/>). Each shape is kept apart, and reshaped when another is asked for.
/// </summary>
internal sealed class CacheKeys(GatewayRequest request, string provider, string model)
{
    public string Provider => provider;
    public string Model => model;

    /// <summary>
    /// The shape of answer the request wants: <c>json</c>, <c>stream</c>, or for OpenAI's API <c>stream+usage</c>
    /// (<c>stream_options.include_usage</c>: a usage chunk cannot be made up for a stream kept without one).
    /// </summary>
    public string Shape => !request.Inspected.Stream ? "json"
        : request.Operation == ApiOperation.ChatCompletions && request.Inspected.IncludeUsage ? "stream+usage" : "stream";

    /// <summary>The shapes the request can be answered from, its own first: every shape holds the content, a stream with usage also the usage.</summary>
    public string[] Shapes => (Shape, request.Operation == ApiOperation.ChatCompletions) switch
    {
        ("json", true) => s_fromJson,
        ("json", false) => s_messagesFromJson,
        ("stream+usage", _) => s_fromStreamWithUsage,
        (_, true) => s_fromStream,
        _ => s_messagesFromStream,
    };

    private static readonly string[] s_fromJson = ["json", "stream+usage", "stream"], s_messagesFromJson = ["json", "stream"],
        s_fromStreamWithUsage = ["stream+usage", "json"], s_fromStream = ["stream", "json", "stream+usage"], s_messagesFromStream = ["stream", "json"];

    /// <summary>The key of the request kept in <paramref name="shape"/>.</summary>
    public string Of(string shape) => ExactCacheKey.Key(request.BodyDigest, Scope, shape, provider, model);

    /// <summary>
    /// The semantic cache's partition: the request without its last user turn (<paramref name="lastTurn"/>), in shape
    /// <c>any</c> (a neighbour's answer is reshaped as needed).
    /// </summary>
    public string Partition(Range lastTurn) =>
        ExactCacheKey.Key(ExactCacheKey.Digest(request.Body.Span, lastTurn), Scope, "any|semantic", provider, model);

    /// <summary>The workspace (or <c>*</c> when answers are shared across workspaces) and the client's API, made once.</summary>
    private string Scope => field ??= $"{(request.Runtime.Config.Cache.SharedAcrossWorkspaces ? "*" : request.Workspace ?? "")}|{request.Operation}";
}
