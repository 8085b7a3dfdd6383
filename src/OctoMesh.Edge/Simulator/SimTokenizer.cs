namespace OctoMesh.Edge.Simulator;

/// <summary>
/// The simulator's documented token rule (docs/simulator.md): a token is a maximal run of letters or
/// digits, or any other single non-white-space character. White space belongs to the token after it.
/// So "Hello, world!" is 4 tokens: "Hello", ",", " world", "!".
/// </summary>
public static class SimTokenizer
{
    public static int Count(ReadOnlySpan<char> text)
    {
        var count = 0;
        var i = 0;
        while (i < text.Length)
        {
            i = NextEnd(text, i, out var isToken);
            if (isToken)
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>Splits text into its tokens, each with its leading white space; concatenated they give the text back.</summary>
    public static List<string> Split(string text)
    {
        var pieces = new List<string>();
        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            i = NextEnd(text, i, out var isToken);
            if (isToken)
            {
                pieces.Add(text[start..i]);
                start = i;
            }
        }
        if (start < text.Length)
        {
            if (pieces.Count > 0)
            {
                pieces[^1] += text[start..];
            }
            else
            {
                pieces.Add(text[start..]);
            }
        }
        return pieces;
    }

    /// <summary>Skips white space, then one token; returns where it ends.</summary>
    private static int NextEnd(ReadOnlySpan<char> text, int i, out bool isToken)
    {
        while (i < text.Length && char.IsWhiteSpace(text[i]))
        {
            i++;
        }
        if (i == text.Length)
        {
            isToken = false;
            return i;
        }
        isToken = true;
        if (!char.IsLetterOrDigit(text[i]))
        {
            return i + (char.IsHighSurrogate(text[i]) && i + 1 < text.Length ? 2 : 1);
        }
        while (i < text.Length && char.IsLetterOrDigit(text[i]))
        {
            i++;
        }
        return i;
    }
}
