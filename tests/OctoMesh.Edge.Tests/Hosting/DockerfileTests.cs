using System.Text.RegularExpressions;

namespace OctoMesh.Edge.Tests.Hosting;

/// <summary>
/// The Dockerfile, linted for what the image promises (no Docker engine runs here): two stages, the same publish as
/// CI, a minimal non-root final base, a data volume, a health check by the binary itself, and sources that exist.
/// </summary>
public partial class DockerfileTests
{
    private static readonly string s_root = Programs.RepositoryRoot();

    private static List<(string Instruction, string Arguments)> Instructions()
    {
        // Continuation lines joined, comments and blank lines dropped.
        var text = File.ReadAllText(Path.Combine(s_root, "Dockerfile")).Replace("\\\n", " ", StringComparison.Ordinal);
        return [.. text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => (l.Split(' ', 2)[0], l.Split(' ', 2).ElementAtOrDefault(1) ?? ""))];
    }

    [Fact]
    public void TheImageIsMultiStageMinimalNonRootAndChecksItsOwnHealth()
    {
        var all = Instructions();
        Assert.All(all, i => Assert.Matches("^[A-Z]+$", i.Instruction));
        var stages = all.Where(i => i.Instruction == "FROM").ToList();
        Assert.Equal(2, stages.Count);
        Assert.Contains("/dotnet/sdk:", stages[0].Arguments);
        Assert.Matches("runtime-deps:.*(chiseled|distroless)", stages[1].Arguments);
        var final = all.SkipWhile(i => i != stages[1]).ToList();
        Assert.DoesNotContain(final, i => i.Instruction == "RUN");
        var user = Assert.Single(final, i => i.Instruction == "USER").Arguments;
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        Assert.Contains(final, i => i.Instruction == "VOLUME" && i.Arguments.Contains("\"/data\""));
        Assert.Contains(final, i => i.Instruction == "HEALTHCHECK" && i.Arguments.Contains("\"/usr/local/bin/octomesh\", \"health\""));
        var binary = Regex.Match(Assert.Single(final, i => i.Instruction == "COPY" && i.Arguments.Contains("/out/octomesh")).Arguments, @"(\S+)$").Value;
        Assert.Contains($"[\"{binary}\"]", Assert.Single(final, i => i.Instruction == "ENTRYPOINT").Arguments);
    }

    [Fact]
    public void TheBuildStagePublishesAsCiDoesFromSourcesThatExist()
    {
        var all = Instructions();
        var publish = Assert.Single(all, i => i.Instruction == "RUN" && i.Arguments.Contains("dotnet publish")).Arguments;
        var ci = File.ReadAllText(Path.Combine(s_root, ".ci", "run"));
        var command = Publish().Match(ci).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(command), ".ci/run does not publish the native binary");
        Assert.Contains(command, publish);
        foreach (var copy in all.Where(i => i.Instruction == "COPY" && !i.Arguments.StartsWith("--from", StringComparison.Ordinal)))
        {
            var sources = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1];
            Assert.All(sources, source => Assert.True(File.Exists(Path.Combine(s_root, source)) || Directory.Exists(Path.Combine(s_root, source)),
                $"COPY {source}: not in the repository"));
        }
    }

    [GeneratedRegex(@"dotnet publish (src/OctoMesh\.Edge -c Release -r linux-x64)")]
    private static partial Regex Publish();
}
