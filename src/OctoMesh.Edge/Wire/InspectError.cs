namespace OctoMesh.Edge.Wire;

/// <summary>Why the inspector refused a request body. Each becomes a 400 in the client's API format.</summary>
internal enum InspectError
{
    /// <summary>The body is a well-formed request.</summary>
    None,
    /// <summary>The body is not valid JSON (or not UTF-8).</summary>
    InvalidJson,
    /// <summary>The body is JSON but not an object.</summary>
    NotAnObject,
    /// <summary>A field the gateway reads appears twice; upstreams would disagree on which one counts.</summary>
    DuplicateField,
    /// <summary>A required field is absent.</summary>
    MissingField,
    /// <summary>A field has the wrong JSON type (e.g. <c>"stream": "yes"</c>).</summary>
    WrongType,
    /// <summary>A field's value is outside what the API allows (empty messages, a 10 kB model name).</summary>
    InvalidValue,
}
