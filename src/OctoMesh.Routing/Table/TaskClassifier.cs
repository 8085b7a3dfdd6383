using System.Collections.Immutable;

namespace OctoMesh.Routing.Table;

/// <summary>Where a task rule looks for its markers.</summary>
public enum TaskMarkerScope
{
    /// <summary>The system prompt or the last user turn.</summary>
    Any,
    System,
    User,
}

/// <summary>
/// One rule of the classifier's first stage: the request is of task <paramref name="Task"/> when every
/// condition given holds. Markers are matched case-insensitively as plain text.
/// </summary>
/// <param name="Markers">At least one must appear (none given: no marker condition).</param>
/// <param name="Tools">The request offers tools (true) or not (false).</param>
/// <param name="MinChars">The last user turn has at least this many characters.</param>
/// <param name="MaxChars">The last user turn has at most this many characters.</param>
public sealed record TaskRule(
    string Task,
    ImmutableArray<string> Markers,
    TaskMarkerScope In = TaskMarkerScope.Any,
    bool? Tools = null,
    int? MinChars = null,
    int? MaxChars = null);

/// <summary>The texts a request's task is judged on.</summary>
/// <param name="System">The system (and developer) prompt, joined; empty when there is none.</param>
/// <param name="LastUser">The last user turn's text.</param>
public readonly record struct TaskEvidence(string System, string LastUser, bool HasTools);

/// <summary>
/// The classifier's second stage: a model (such as nearest centroid over embeddings of labelled
/// examples) asked only when no rule decides. The embedder arrives with the semantic cache; until
/// then the classifier runs its rules alone.
/// </summary>
public interface ITaskModel
{
    string? Classify(in TaskEvidence evidence);
}

/// <summary>
/// Detects the task of a request that declared none: the first rule whose conditions all hold names
/// it, else the second stage (when there is one) may. Rules run in configuration order.
/// </summary>
public sealed class TaskClassifier(ImmutableArray<TaskRule> rules, ITaskModel? model = null)
{
    public static TaskClassifier Empty { get; } = new([]);

    public bool IsEmpty => rules.IsEmpty && model is null;

    public string? Classify(in TaskEvidence evidence)
    {
        foreach (var rule in rules)
        {
            if (Holds(rule, evidence))
            {
                return rule.Task;
            }
        }
        return model?.Classify(evidence);
    }

    private static bool Holds(TaskRule rule, in TaskEvidence evidence)
    {
        if (rule.Tools is { } tools && tools != evidence.HasTools) return false;
        if (rule.MinChars is { } min && evidence.LastUser.Length < min) return false;
        if (rule.MaxChars is { } max && evidence.LastUser.Length > max) return false;
        if (rule.Markers.IsEmpty)
        {
            return true;
        }
        foreach (var marker in rule.Markers)
        {
            if ((rule.In != TaskMarkerScope.User && evidence.System.Contains(marker, StringComparison.OrdinalIgnoreCase))
                || (rule.In != TaskMarkerScope.System && evidence.LastUser.Contains(marker, StringComparison.OrdinalIgnoreCase)))
            {
                return true;
            }
        }
        return false;
    }
}
