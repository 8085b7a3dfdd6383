namespace OctoMesh.Edge.Pipeline;

/// <summary>What a step did: the chain goes on, or the client has its answer (or is gone) and the chain stops.</summary>
internal enum StepResult
{
    Next,
    Answered,
}

/// <summary>One concern of the request path, run in order by <see cref="GatewayEndpoint"/>.</summary>
internal interface IRequestStep
{
    ValueTask<StepResult> RunAsync(GatewayRequest request);
}

/// <summary>
/// A step with an after half: once its <see cref="IRequestStep.RunAsync"/> has run, <see cref="CloseAsync"/> runs when
/// the chain ends, in the reverse order of the brackets, whether a later step answered, refused or threw.
/// </summary>
internal interface IRequestBracket : IRequestStep
{
    ValueTask CloseAsync(GatewayRequest request);
}
