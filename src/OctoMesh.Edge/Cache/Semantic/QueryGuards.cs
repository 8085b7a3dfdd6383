using System.Text;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>What the guards know of a question: the parts that must be equal, and its content words.</summary>
/// <param name="Signature">Numbers in order, polarity, opposite-pair words and code, in one string.</param>
/// <param name="Words">Its content words (lower case, light stemming), sorted, without repeats.</param>
internal sealed record GuardFacts(string Signature, string[] Words);

/// <summary>
/// What two questions must share, however close their embeddings, for one's answer to serve the other. Equal:
/// the numbers in order (digits, or number words: "two" is 2), the polarity (whether a negation is there: not,
/// never, without, n't, …), the opposite-pair words present (ascending/descending, high/low, …), and the code (text
/// in backticks exactly, and the operator characters and quotes), and the direction (the word after "to" or "into").
/// Aligned: every content word of one (a word that is not a
/// function word or a filler such as "please" or "explain") is in the other, up to plural and tense endings and
/// one typo in a long word. Embeddings put "gold" next to "silver" and "upgrade" next to "downgrade"; the guards
/// are what keeps such neighbours from being served each other's answers. The price is recall: a paraphrase that
/// swaps a content word for a synonym is a miss.
/// </summary>
internal static class QueryGuards
{
    private static readonly Dictionary<string, string> s_numberWords = new(StringComparer.Ordinal)
    {
        ["zero"] = "0", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5", ["six"] = "6",
        ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10", ["eleven"] = "11", ["twelve"] = "12",
        ["thirteen"] = "13", ["fourteen"] = "14", ["fifteen"] = "15", ["sixteen"] = "16", ["seventeen"] = "17",
        ["eighteen"] = "18", ["nineteen"] = "19", ["twenty"] = "20", ["thirty"] = "30", ["forty"] = "40", ["fifty"] = "50",
        ["sixty"] = "60", ["seventy"] = "70", ["eighty"] = "80", ["ninety"] = "90", ["hundred"] = "100",
        ["thousand"] = "1000", ["million"] = "1000000", ["billion"] = "1000000000", ["half"] = "0.5", ["twice"] = "x2",
        ["double"] = "x2", ["triple"] = "x3", ["dozen"] = "12",
    };

    private static readonly HashSet<string> s_negations = new(StringComparer.Ordinal)
    {
        "not", "no", "never", "without", "except", "none", "nothing", "nobody", "neither", "nor", "cannot", "excluding",
        "non", "nowhere", "unless", "avoid", "exclude", "lacking", "dont", "doesnt", "isnt", "cant", "wont", "shouldnt",
        "wouldnt", "arent", "wasnt", "didnt", "havent",
    };

    /// <summary>Words with an opposite; each side of a pair (with its alternatives after '/') shares one mark.</summary>
    private static readonly Dictionary<string, string> s_polar = Pairs(
        "ascending descending", "increasing decreasing", "increase/raise decrease/lower/reduce", "above below", "over under",
        "before after", "min/minimum max/maximum", "smallest/least largest/biggest/most", "smaller/less larger/bigger/more",
        "lowest highest", "low high", "shortest longest", "shorter longer", "earliest latest", "oldest newest",
        "cheapest/cheaper expensive", "true false", "add remove/delete", "encode decode", "encrypt decrypt",
        "compress decompress", "serialize deserialize", "upper/uppercase lower/lowercase", "open close", "start/begin end/stop",
        "enable disable", "import export", "push pull", "buy sell", "hot cold", "north south", "east west", "left right",
        "inner outer", "positive negative", "odd even", "pros cons", "advantages disadvantages", "agree disagree",
        "legal illegal", "safe unsafe", "rows columns", "horizontal vertical", "sync async", "win lose", "summer winter",
        "morning evening", "public private", "upgrade downgrade", "active passive", "favor against", 
        "input output", "upload download", "login logout", "include exclude", "best worst",
        "faster slower", "male female", "wet dry", "strong weak", "rise fall", "plus minus", "multiply divide", "inside outside", "top bottom", "head tail", "client server",
        "debit credit", "income expense", "import/imports export/exports", "yesterday tomorrow", "past future", "inward out");

    private static Dictionary<string, string> Pairs(params string[] pairs)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var sides = pair.Split(' ');
            foreach (var word in sides[0].Split('/'))
            {
                map.TryAdd(word, sides[0] + "+");
            }
            foreach (var word in sides[1].Split('/'))
            {
                map.TryAdd(word, sides[0] + "-");
            }
        }
        return map;
    }

    /// <summary>Words that carry no content of their own: function words, question words, politeness, asking verbs.</summary>
    private static readonly HashSet<string> s_fillers = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing", "done", "have",
        "has", "had", "having", "i", "me", "my", "mine", "myself", "you", "your", "yours", "we", "us", "our", "it", "its", "they",
        "them", "their", "he", "him", "his", "she", "her", "this", "that", "these", "those", "there", "here", "of", "in", "on",
        "at", "for", "to", "from", "with", "by", "about", "as", "into", "onto", "and", "or", "but", "if", "so", "then", "than",
        "what", "whats", "which", "who", "whom", "whose", "how", "hows", "why", "when", "where", "can", "could", "would",
        "should", "will", "shall", "may", "might", "must", "please", "pls", "plz", "thanks", "thank", "kindly", "tell", "explain",
        "describe", "define", "definition", "meaning", "mean", "give", "show", "know", "want", "need", "like", "just", "also",
        "really", "some", "any", "all", "one", "way", "possible", "quick", "question", "hey", "hi", "hello", "okay", "ok",
        "im", "ive", "id", "youre", "theres", "s", "t", "d", "ll", "re", "ve", "m", "get", "got", "help", "make", "use", "using",
        "able", "exactly", "actually", "very", "something", "anything", "thing", "things", "ways", "up", "both", "vs",
        "versus", "command", "find", "check", "many", "much", "number",
    };

    private const string Operators = "+*/%<>=!&|^~";

    /// <summary>The guard facts of <paramref name="text"/>.</summary>
    public static GuardFacts Analyze(string text)
    {
        var numbers = new StringBuilder();
        var polar = new List<string>();
        var words = new SortedSet<string>(StringComparer.Ordinal);
        var negated = false;
        var afterNumber = false;
        var afterContent = false;
        var toward = false;
        var i = 0;
        while (i < text.Length)
        {
            if (!char.IsLetterOrDigit(text[i]))
            {
                i++;
                continue;
            }
            // A word: letters and digits, joined by the marks inside numbers (3.14, 1,000), names (file_name.py) and
            // contractions (don't).
            var start = i;
            while (i < text.Length && (char.IsLetterOrDigit(text[i]) || i + 1 < text.Length && char.IsLetterOrDigit(text[i + 1])
                && (text[i] is '_' || text[i] is '.' or ',' && char.IsDigit(text[i - 1]) && char.IsDigit(text[i + 1])
                    || text[i] is '.' && char.IsLetter(text[i - 1]) && char.IsLetter(text[i + 1]) || text[i] is '\'' or '’' && char.IsLetter(text[i - 1]))))
            {
                i++;
            }
            var lower = text[start..i].ToLowerInvariant().Replace("’", "'", StringComparison.Ordinal);
            var wasAfterNumber = afterNumber;
            var wasAfterContent = afterContent;
            afterNumber = afterContent = false;
            if (lower.Any(char.IsDigit))
            {
                Append(numbers, lower.Replace(",", "", StringComparison.Ordinal));
                afterNumber = true;
                continue;
            }
            if (s_numberWords.TryGetValue(lower, out var number))
            {
                Append(numbers, number);
                afterNumber = true;
                continue;
            }
            if (wasAfterNumber && lower is "am" or "pm")
            {
                // 7:30 am is not 7:30 pm.
                numbers.Append(lower);
                continue;
            }
            var bare = lower.EndsWith("'s", StringComparison.Ordinal) ? lower[..^2] : lower.Replace("'", "", StringComparison.Ordinal);
            if (s_negations.Contains(bare) || lower.EndsWith("n't", StringComparison.Ordinal))
            {
                negated = true;
            }
            else if (s_polar.TryGetValue(bare, out var mark) || s_polar.TryGetValue(Stem(bare), out mark))
            {
                polar.Add(mark);
            }
            else if (bare == "percent")
            {
                polar.Add("%");
            }
            else if (!s_fillers.Contains(bare))
            {
                var stem = Stem(bare);
                words.Add(stem);
                if (toward)
                {
                    // A direction: "miles to kilometers" is not "kilometers to miles".
                    polar.Add("->" + stem);
                    toward = false;
                }
                afterContent = true;
            }
            else if (bare is "to" or "into")
            {
                // "X to Y" (not "how to", "want to"): the next content word is where it goes.
                toward = wasAfterContent || wasAfterNumber;
            }
        }
        polar.Sort(StringComparer.Ordinal);
        var signature = new StringBuilder();
        signature.Append(numbers).Append('|').Append(negated ? '!' : '=').Append('|').AppendJoin(',', polar).Append('|');
        AppendCode(signature, text);
        return new GuardFacts(signature.ToString(), [.. words]);
    }

    /// <summary>Whether an answer to one may serve the other: the same signature, and every content word of each in the other.</summary>
    public static bool Agree(GuardFacts a, GuardFacts b) => a.Signature == b.Signature && Covered(a.Words, b.Words) && Covered(b.Words, a.Words);

    /// <summary>Every word of <paramref name="words"/> is in <paramref name="other"/>, or one typo away from a word of it (words of 5 letters or more).</summary>
    private static bool Covered(string[] words, string[] other)
    {
        foreach (var word in words)
        {
            if (Array.BinarySearch(other, word, StringComparer.Ordinal) >= 0)
            {
                continue;
            }
            var near = false;
            foreach (var candidate in other)
            {
                if (word.Length >= 5 && candidate.Length >= 5 && OneEditApart(word, candidate))
                {
                    near = true;
                    break;
                }
            }
            if (!near)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>True when one insertion, deletion, substitution or swap of neighbours turns one into the other.</summary>
    private static bool OneEditApart(string a, string b)
    {
        if (Math.Abs(a.Length - b.Length) > 1)
        {
            return false;
        }
        var start = 0;
        while (start < a.Length && start < b.Length && a[start] == b[start])
        {
            start++;
        }
        var endA = a.Length;
        var endB = b.Length;
        while (endA > start && endB > start && a[endA - 1] == b[endB - 1])
        {
            endA--;
            endB--;
        }
        var restA = endA - start;
        var restB = endB - start;
        return restA <= 1 && restB <= 1
            || restA == 2 && restB == 2 && a[start] == b[start + 1] && a[start + 1] == b[start];
    }

    /// <summary>
    /// Plural and tense endings off, then a final e and a doubled last letter, so that inflections meet:
    /// <c>causes</c>, <c>caused</c> and <c>cause</c> are <c>caus</c>; <c>shipping</c> and <c>ship</c> are <c>ship</c>.
    /// </summary>
    internal static string Stem(string word)
    {
        if (word.Length > 4 && word.EndsWith("ies", StringComparison.Ordinal))
        {
            return word[..^3] + "y";
        }
        if (word.Length > 5 && word.EndsWith("ing", StringComparison.Ordinal))
        {
            word = word[..^3];
        }
        else if (word.Length > 5 && word.EndsWith("ed", StringComparison.Ordinal))
        {
            word = word[..^2];
        }
        else if (word.Length > 3 && word.EndsWith('s') && !word.EndsWith("ss", StringComparison.Ordinal) && !word.EndsWith("us", StringComparison.Ordinal)
            && !word.EndsWith("is", StringComparison.Ordinal))
        {
            word = word[..^1];
        }
        if (word.Length > 4 && word.EndsWith('e'))
        {
            word = word[..^1];
        }
        if (word.Length > 3 && word[^1] == word[^2] && word[^1] is not ('s' or 'l' or 'z'))
        {
            word = word[..^1];
        }
        return word;
    }

    /// <summary>
    /// Code must be the same: the text inside backticks exactly, then every operator character and quote outside them,
    /// in order (an apostrophe between two letters is not a quote).
    /// </summary>
    private static void AppendCode(StringBuilder signature, string text)
    {
        var inCode = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '`')
            {
                inCode = !inCode;
                signature.Append('`');
            }
            else if (inCode || Operators.Contains(c) || c == '"'
                || c == '\'' && !(i > 0 && char.IsLetter(text[i - 1]) && i + 1 < text.Length && char.IsLetter(text[i + 1])))
            {
                signature.Append(c);
            }
        }
    }

    private static void Append(StringBuilder builder, string item)
    {
        if (builder.Length > 0)
        {
            builder.Append(',');
        }
        builder.Append(item);
    }
}
