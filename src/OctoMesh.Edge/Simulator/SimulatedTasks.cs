using System.Globalization;
using System.Text.RegularExpressions;

namespace OctoMesh.Edge.Simulator;

/// <summary>
/// The closed tasks of the simulated market, recognised by the prompts the workload generator writes, with their
/// right answer (computed from the prompt) and a plausible wrong one. Arithmetic stays with <see cref="SimulatedAnswer"/>.
/// <list type="bullet">
/// <item><c>classify</c>: "Classify the sentiment of this review as positive or negative: …" → the label its words carry.</item>
/// <item><c>extract</c>: "Extract the order number from this message: … #48213 …" → 48213.</item>
/// <item><c>reverse</c>: "Reverse the letters of the word: lantern" → nretnal.</item>
/// <item><c>summarize</c> (open: judged): "Summarize in one sentence: …" → a summary naming the text's facts (a poor one: half of them).</item>
/// <item><c>judge</c>: "Compare two answers to the question below. …" → A, B or tie by which names more of the question's facts; a slip says A.</item>
/// <item><c>json</c>: "Return only a JSON object with the fields name and age for: Maria is 34 years old." → {"name":"Maria","age":34}.</item>
/// </list>
/// </summary>
internal static partial class SimulatedTasks
{
    public static readonly string[] Positive = ["great", "love", "excellent", "wonderful", "happy", "perfect", "fast", "friendly", "recommend", "delighted"];
    public static readonly string[] Negative = ["terrible", "hate", "awful", "broken", "slow", "rude", "refund", "disappointed", "worst", "late"];

    /// <summary>The facts a <c>summarize</c> text carries: a good summary names them all, a poor one half.</summary>
    public static readonly string[] Facts =
    [
        "Falcon", "March", "battery", "Tuesday", "budget", "Lisbon", "supplier", "contract", "engine", "warehouse", "audit", "Friday",
        "pricing", "server", "outage", "Orion", "invoice", "firmware", "Denver", "payroll", "Atlas", "shipment", "license", "Monday",
    ];

    public static bool TryAnswer(string prompt, out string task, out string right, out string wrong)
    {
        Match match;
        if ((match = Judge().Match(prompt)).Success)
        {
            // The judge: the answer that names more of the question's facts is better. Its slip is position bias: "A".
            var facts = Facts.Where(f => match.Groups[1].Value.Contains(f, StringComparison.Ordinal)).ToArray();
            var (a, b) = (facts.Count(f => match.Groups[2].Value.Contains(f, StringComparison.Ordinal)), facts.Count(f => match.Groups[3].Value.Contains(f, StringComparison.Ordinal)));
            (task, right, wrong) = ("judge", a > b ? "A" : b > a ? "B" : "tie", "A");
            return true;
        }
        if ((match = Summarize().Match(prompt)).Success)
        {
            var facts = Facts.Where(f => match.Groups[1].Value.Contains(f, StringComparison.Ordinal)).ToArray();
            (task, right, wrong) = ("summarize", $"Summary: {string.Join(", ", facts)}.", $"Summary: {string.Join(", ", facts.Take(facts.Length / 2))}.");
            return true;
        }
        if ((match = Classify().Match(prompt)).Success)
        {
            var words = match.Groups[1].Value.ToLowerInvariant().Split([' ', ',', '.', '!', '?'], StringSplitOptions.RemoveEmptyEntries);
            var score = words.Count(w => Positive.Contains(w)) - words.Count(w => Negative.Contains(w));
            (task, right, wrong) = ("classify", score >= 0 ? "positive" : "negative", score >= 0 ? "negative" : "positive");
            return true;
        }
        if ((match = Extract().Match(prompt)).Success)
        {
            var number = match.Groups[1].Value;
            (task, right, wrong) = ("extract", number, number[..^1] + (char)('0' + (number[^1] - '0' + 1) % 10));
            return true;
        }
        if ((match = Reverse().Match(prompt)).Success)
        {
            var word = match.Groups[1].Value;
            var reversed = new string(word.Reverse().ToArray());
            // The usual slip: the ends swapped, the middle left as it was.
            (task, right, wrong) = ("reverse", reversed, word.Length < 3 ? word : word[^1] + word[1..^1] + word[0]);
            return true;
        }
        if ((match = Json().Match(prompt)).Success)
        {
            var name = match.Groups[1].Value;
            var age = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
            (task, right, wrong) = ("json", $$"""{"name":"{{name}}","age":{{age}}}""", $$"""{"name":"{{name}}","age":"{{age + 1}}"}""");
            return true;
        }
        (task, right, wrong) = ("", "", "");
        return false;
    }

    [GeneratedRegex(@"^Compare two answers to the question below\.\nQuestion: (.*)\nAnswer A: (.*)\nAnswer B: (.*)\nReply with exactly one of: A, B, tie\.$", RegexOptions.Singleline)]
    private static partial Regex Judge();

    [GeneratedRegex(@"^Summarize in one sentence: (.+)$", RegexOptions.Singleline)]
    private static partial Regex Summarize();

    [GeneratedRegex(@"^Classify the sentiment of this review as positive or negative: (.+)$", RegexOptions.Singleline)]
    private static partial Regex Classify();

    [GeneratedRegex(@"^Extract the order number from this message: .*#(\d{3,9})\b", RegexOptions.Singleline)]
    private static partial Regex Extract();

    [GeneratedRegex(@"^Reverse the letters of the word: ([a-z]{2,40})$")]
    private static partial Regex Reverse();

    [GeneratedRegex(@"^Return only a JSON object with the fields name and age for: ([A-Z][a-z]{1,20}) is (\d{1,3}) years old\.$")]
    private static partial Regex Json();
}
