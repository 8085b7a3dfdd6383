namespace OctoMesh.Routing.Table;

/// <summary>A route ready for the hot path: its definition, flattened matchers and one health record per target.</summary>
public sealed class CompiledRoute
{
    private readonly KeyValuePair<string, string>[] _headers;
    private readonly int _totalWeight;

    /// <param name="previous">The route of the same name in the table this one replaces: its targets' health carries over.</param>
    internal CompiledRoute(RouteDefinition definition, int index, CompiledRoute? previous, TimeProvider time)
    {
        Definition = definition;
        Index = index;
        Health = definition.Targets
            .Select(t => (previous?.Definition.Breaker == definition.Breaker ? previous?.HealthOf(t) : null) ?? new TargetHealth(definition.Breaker, time))
            .ToArray();
        _headers = definition.Match.Headers?.ToArray() ?? [];
        _totalWeight = definition.Targets.Sum(t => Math.Max(t.Weight, 0));
    }

    public RouteDefinition Definition { get; }

    private TargetHealth? HealthOf(RouteTarget target)
    {
        var targets = Definition.Targets;
        for (var i = 0; i < targets.Length; i++)
        {
            if (targets[i].Provider == target.Provider && targets[i].Model == target.Model)
            {
                return Health[i];
            }
        }
        return null;
    }

    /// <summary>Position in the configuration; earlier routes win.</summary>
    public int Index { get; }

    public string Name => Definition.Name;

    /// <summary>One per target, in the targets' order.</summary>
    public TargetHealth[] Health { get; }

    /// <summary>Why the request does not match this route's matchers other than the model, or null when it does: for explaining a decision.</summary>
    public string? Mismatch(in RouteRequest request)
    {
        var match = Definition.Match;
        if (match.Workspace is not null && !string.Equals(match.Workspace, request.Workspace, StringComparison.Ordinal))
            return $"workspace is '{request.Workspace ?? "none"}', the route wants '{match.Workspace}'";
        if (match.Task is not null && !string.Equals(match.Task, request.Task, StringComparison.Ordinal))
            return $"task is '{request.Task ?? "none"}', the route wants '{match.Task}'";
        if (match.Tools is { } tools && tools != request.HasTools)
            return tools ? "the request offers no tools" : "the request offers tools";
        if (match.Images is { } images && images != request.HasImages)
            return images ? "the request carries no images" : "the request carries images";
        if (match.Stream is { } stream && stream != request.Stream)
            return stream ? "the request does not stream" : "the request streams";
        if (match.MinPromptTokens is { } min && request.PromptTokens < min)
            return $"about {request.PromptTokens} prompt tokens, the route wants at least {min}";
        if (match.MaxPromptTokens is { } max && request.PromptTokens > max)
            return $"about {request.PromptTokens} prompt tokens, the route wants at most {max}";
        foreach (var (name, value) in _headers)
        {
            if (request.Headers?.Get(name) is not { } actual || !string.Equals(actual, value, StringComparison.Ordinal))
            {
                return $"header {name} is not '{value}'";
            }
        }
        return null;
    }

    /// <summary>Does the request match everything but the model (which the table's index has matched)?</summary>
    internal bool MatchesFeatures(in RouteRequest request)
    {
        var match = Definition.Match;
        if (match.Workspace is not null && !string.Equals(match.Workspace, request.Workspace, StringComparison.Ordinal)) return false;
        if (match.Task is not null && !string.Equals(match.Task, request.Task, StringComparison.Ordinal)) return false;
        if (match.Tools is { } tools && tools != request.HasTools) return false;
        if (match.Images is { } images && images != request.HasImages) return false;
        if (match.Stream is { } stream && stream != request.Stream) return false;
        if (match.MinPromptTokens is { } min && request.PromptTokens < min) return false;
        if (match.MaxPromptTokens is { } max && request.PromptTokens > max) return false;
        foreach (var (name, value) in _headers)
        {
            if (request.Headers?.Get(name) is not { } actual || !string.Equals(actual, value, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Writes the target indices in the order to try them; returns how many.</summary>
    internal int Order(in RouteRequest request, Span<int> order, Random random)
    {
        var targets = Definition.Targets;
        var count = targets.Length;
        for (var i = 0; i < count; i++)
        {
            order[i] = i;
        }
        var slice = order[..count];
        Span<double> keys = stackalloc double[count];
        switch (Definition.Strategy)
        {
            case RouteStrategy.Weighted:
                DrawFirstByWeight(slice, random);
                break;
            case RouteStrategy.LeastLatency:
                for (var i = 0; i < count; i++)
                {
                    keys[i] = Health[i].LatencyScore;
                }
                SortByKey(slice, keys);
                break;
            case RouteStrategy.CheapestAboveQuality:
                // Qualifying targets by price, cheapest first; then the rest by quality, strongest first.
                for (var i = 0; i < count; i++)
                {
                    var quality = targets[i].QualityFor(request.Task);
                    keys[i] = quality >= Definition.QualityFloor ? targets[i].PricePerMillionTokens : 1e12 + (1 - quality);
                }
                SortByKey(slice, keys);
                break;
        }
        // Whatever the strategy, targets a breaker holds open go last, in the order they had.
        StableAvailableFirst(slice);
        return count;
    }

    private void DrawFirstByWeight(Span<int> order, Random random)
    {
        if (_totalWeight <= 0)
        {
            return;
        }
        var draw = random.Next(_totalWeight);
        var targets = Definition.Targets;
        for (var i = 0; i < order.Length; i++)
        {
            draw -= Math.Max(targets[i].Weight, 0);
            if (draw < 0)
            {
                // The drawn target first, the others after it in their configured order.
                order[..i].CopyTo(order[1..]);
                order[0] = i;
                return;
            }
        }
    }

    /// <summary>Insertion sort by a key per target: target lists are short, and it allocates nothing and keeps ties in order.</summary>
    private static void SortByKey(Span<int> order, ReadOnlySpan<double> keys)
    {
        for (var i = 1; i < order.Length; i++)
        {
            var item = order[i];
            var j = i - 1;
            while (j >= 0 && keys[order[j]] > keys[item])
            {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = item;
        }
    }

    private void StableAvailableFirst(Span<int> order)
    {
        for (var i = 1; i < order.Length; i++)
        {
            var item = order[i];
            if (!Health[item].IsAvailable)
            {
                continue;
            }
            var j = i - 1;
            while (j >= 0 && !Health[order[j]].IsAvailable)
            {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = item;
        }
    }
}
