using System.Globalization;
using OctoMesh.Edge.Simulator;

namespace OctoMesh.Edge.Optimizer;

/// <summary>
/// Writes a labelled workload of the simulated market's six task classes (classify, extract, reverse, json, math, and
/// summarize, an open task that a judge scores), in
/// the prompts the simulator recognises, each with its reference answer and checker. The same seed gives the same
/// items; another seed gives a held-out set.
/// </summary>
internal static class WorkloadGenerator
{
    public static readonly string[] Tasks = ["classify", "extract", "reverse", "json", "math", "summarize"];

    private static readonly string[] s_words =
    [
        "lantern", "harbor", "velvet", "quartz", "meadow", "copper", "thunder", "saddle", "orchid", "glacier", "pepper", "violin",
        "marble", "compass", "falcon", "ribbon", "timber", "cactus", "pebble", "summit", "walnut", "anchor", "blossom", "canyon",
    ];

    private static readonly string[] s_names = ["Maria", "Ahmed", "Chen", "Olga", "Tomas", "Aisha", "Liam", "Yuki", "Pedro", "Ines", "Kofi", "Sara"];
    private static readonly string[] s_neutral = ["the", "product", "arrived", "and", "it", "was", "my", "order", "service", "overall"];

    public static IEnumerable<WorkloadItem> Generate(int perTask, int seed)
    {
        var random = new Random(seed);
        foreach (var task in Tasks)
        {
            for (var i = 0; i < perTask; i++)
            {
                var (prompt, reference, checker) = task switch
                {
                    "classify" => Classify(random),
                    "extract" => Extract(random),
                    "reverse" => Reverse(random),
                    "json" => Json(random),
                    "summarize" => Summarize(random),
                    _ => Math(random),
                };
                yield return new WorkloadItem($"{task}-{seed}-{i:D4}", task, WorkloadItem.UserMessages(prompt), reference, checker);
            }
        }
    }

    private static (string, string, Checker) Classify(Random random)
    {
        var positive = random.Next(2) == 0;
        var pool = positive ? SimulatedTasks.Positive : SimulatedTasks.Negative;
        var words = Enumerable.Range(0, 6).Select(i => i % 3 == 1 ? pool[random.Next(pool.Length)] : s_neutral[random.Next(s_neutral.Length)]);
        return ($"Classify the sentiment of this review as positive or negative: {string.Join(' ', words)}.", positive ? "positive" : "negative",
            new Checker(CheckerKind.Exact));
    }

    private static (string, string, Checker) Extract(Random random)
    {
        var number = random.Next(10_000, 99_999).ToString(CultureInfo.InvariantCulture);
        return ($"Extract the order number from this message: Hello, my parcel for order #{number} has not arrived yet, can you check?", number,
            new Checker(CheckerKind.Regex, Pattern: $"^\\s*#?{number}\\s*$"));
    }

    private static (string, string, Checker) Reverse(Random random)
    {
        var word = s_words[random.Next(s_words.Length)];
        return ($"Reverse the letters of the word: {word}", new string(word.Reverse().ToArray()), new Checker(CheckerKind.Exact));
    }

    private static (string, string, Checker) Json(Random random)
    {
        var name = s_names[random.Next(s_names.Length)];
        var age = random.Next(18, 90);
        return ($"Return only a JSON object with the fields name and age for: {name} is {age} years old.",
            $$"""{"name":"{{name}}","age":{{age}}}""",
            new Checker(CheckerKind.Json, Schema: """{"required":["name","age"],"properties":{"name":{"type":"string"},"age":{"type":"integer"}}}"""));
    }

    /// <summary>An open task: no reference answer; the judge compares each candidate's summary with the reference model's.</summary>
    private static (string, string?, Checker) Summarize(Random random)
    {
        var facts = SimulatedTasks.Facts.OrderBy(_ => random.Next()).Take(4).ToArray();
        return ($"Summarize in one sentence: Team notes: {facts[0]} and {facts[1]} came up; after the review, {facts[2]} depends on {facts[3]}; everything else stays as planned.",
            null, new Checker(CheckerKind.Judge));
    }

    private static (string, string, Checker) Math(Random random)
    {
        var (a, b) = (random.Next(11, 99), random.Next(11, 99));
        var op = random.Next(3);
        var symbol = op switch { 0 => "+", 1 => "-", _ => "*" };
        var value = op switch { 0 => a + b, 1 => a - b, _ => a * b };
        return ($"What is {a} {symbol} {b}?", value.ToString(CultureInfo.InvariantCulture), new Checker(CheckerKind.Numeric));
    }
}
