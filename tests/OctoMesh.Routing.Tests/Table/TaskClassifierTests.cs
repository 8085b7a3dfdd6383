using OctoMesh.Routing.Table;

namespace OctoMesh.Routing.Tests.Table;

public class TaskClassifierTests
{
    private sealed class Nearest(string answer) : ITaskModel
    {
        public string? Classify(in TaskEvidence evidence) => answer;
    }

    private static readonly TaskClassifier s_rules = new(
    [
        new TaskRule("agent", [], Tools: true),
        new TaskRule("code", ["```", "Stack Trace"], TaskMarkerScope.User),
        new TaskRule("support", ["support agent"], TaskMarkerScope.System),
        new TaskRule("chit-chat", [], MaxChars: 20),
        new TaskRule("essay", [], MinChars: 2000),
    ]);

    [Theory]
    [InlineData("", "Fix this:\n```py\nprint(1)\n```", false, "code")]
    [InlineData("", "here is the STACK TRACE you asked for", false, "code")]
    [InlineData("```", "Explain monads in detail, with several examples please.", false, null)]
    [InlineData("You are a Support Agent for ACME.", "My order has not arrived, what can I do about it?", false, "support")]
    [InlineData("", "hi there", false, "chit-chat")]
    [InlineData("", "Fix this:\n```py\nprint(1)\n```", true, "agent")]
    [InlineData("", "Explain monads in detail, with several examples please.", false, null)]
    public void FirstMatchingRuleNamesTheTask(string system, string user, bool tools, string? task)
    {
        Assert.Equal(task, s_rules.Classify(new TaskEvidence(system, user, tools)));
    }

    [Fact]
    public void LengthRules()
    {
        Assert.Equal("essay", s_rules.Classify(new TaskEvidence("", new string('x', 2000), false)));
        Assert.Null(s_rules.Classify(new TaskEvidence("", new string('x', 1999), false)));
    }

    [Fact]
    public void TheSecondStageAnswersWhenNoRuleDoes()
    {
        var classifier = new TaskClassifier([new TaskRule("code", ["```"])], new Nearest("summarize"));
        Assert.Equal("code", classifier.Classify(new TaskEvidence("", "```", false)));
        Assert.Equal("summarize", classifier.Classify(new TaskEvidence("", "Summarise this report for me please.", false)));
        Assert.True(TaskClassifier.Empty.IsEmpty);
        Assert.False(classifier.IsEmpty);
    }
}
