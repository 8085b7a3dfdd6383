using OctoMesh.Edge.Simulator;

namespace OctoMesh.Edge.Tests.Simulator;

public class SimTokenizerTests
{
    [Theory]
    [InlineData("", 0)]
    [InlineData("   ", 0)]
    [InlineData("Hello, world!", 4)]
    [InlineData("What is 6 * 7?", 6)]
    [InlineData("naïve café 🦑", 3)]
    [InlineData("a\nb\tc", 3)]
    public void CountsByTheDocumentedRule(string text, int tokens)
    {
        Assert.Equal(tokens, SimTokenizer.Count(text));
        Assert.Equal(tokens, SimTokenizer.Split(text).Count(p => !string.IsNullOrWhiteSpace(p)));
    }

    [Theory]
    [InlineData("Hello, world!")]
    [InlineData("  leading and trailing  ")]
    [InlineData("emoji 🦑🐙 split")]
    public void SplitGivesTheTextBack(string text)
    {
        Assert.Equal(text, string.Concat(SimTokenizer.Split(text)));
    }
}
