using System.Text.RegularExpressions;

namespace OctoMesh.Edge.Tests;

/// <summary>
/// The layering rule of docs/architecture.md, read from the sources: which folder of src/OctoMesh.Edge names which
/// (a <c>using OctoMesh.Edge.X</c>, a qualified <c>OctoMesh.Edge.X.Type</c>, or <c>X.Type</c> from a sibling namespace).
/// </summary>
public partial class LayeringTests
{
    private static readonly string s_source = Path.Combine(Programs.RepositoryRoot(), "src", "OctoMesh.Edge");

    /// <summary>Folder → the other folders its files name. Files at the top (Program.cs) are the folder "".</summary>
    private static Dictionary<string, HashSet<string>> Imports()
    {
        var folders = Directory.GetDirectories(s_source).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).Select(f => f!).ToHashSet();
        var sibling = new Regex($@"(?<![\w.])({string.Join('|', folders)})\.[A-Z]\w*");
        var imports = folders.Append("").ToDictionary(f => f, _ => new HashSet<string>());
        foreach (var file in Directory.EnumerateFiles(s_source, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(s_source, file).Split(Path.DirectorySeparatorChar);
            if (relative[0] is "bin" or "obj")
            {
                continue;
            }
            var folder = relative.Length > 1 ? relative[0] : "";
            // Comments may name anything; code may not.
            var code = Comment().Replace(File.ReadAllText(file), "");
            var named = Qualified().Matches(code).Select(m => m.Groups[1].Value)
                .Concat(sibling.Matches(code).Select(m => m.Groups[1].Value))
                .Where(f => f != folder && folders.Contains(f));
            imports[folder].UnionWith(named);
        }
        return imports;
    }

    [GeneratedRegex(@"//.*")]
    private static partial Regex Comment();

    [GeneratedRegex(@"OctoMesh\.Edge\.(\w+)")]
    private static partial Regex Qualified();

    [Fact]
    public void NoTwoFoldersImportEachOtherThroughAnyPath()
    {
        var imports = Imports();
        var cycles = new List<string>();
        foreach (var start in imports.Keys)
        {
            // A path from a folder back to itself is a cycle; each is reported once, from its smallest folder.
            var path = new Stack<string>();
            Walk(start);

            void Walk(string folder)
            {
                path.Push(folder);
                foreach (var next in imports[folder].Order(StringComparer.Ordinal))
                {
                    if (next == start && path.All(f => string.CompareOrdinal(f, start) >= 0))
                    {
                        cycles.Add(string.Join(" -> ", path.Reverse().Append(start)));
                    }
                    else if (!path.Contains(next))
                    {
                        Walk(next);
                    }
                }
                path.Pop();
            }
        }
        Assert.True(cycles.Count == 0, "Import cycles between folders:\n" + string.Join("\n", cycles.Distinct()));
    }

    [Fact]
    public void TheLayersPointOneWay()
    {
        var imports = Imports();
        // The formats import nothing else; providers only the formats.
        Assert.Empty(imports["Wire"]);
        Assert.Equal(["Wire"], imports["Providers"]);
        // The composition root is imported by nothing but the program's entry and its command line, which starts it.
        Assert.Equal(["", "Cli"], imports.Where(i => i.Value.Contains("Hosting")).Select(i => i.Key).Order(StringComparer.Ordinal));
        // The pipeline is above every concern it runs and below the doors that start it.
        foreach (var below in new[] { "Wire", "Providers", "Redis", "Cache", "Tenancy", "Privacy", "Metering", "Telemetry" })
        {
            Assert.DoesNotContain("Pipeline", imports[below]);
        }
    }

    [Fact]
    public void TheCheckSeesAnImport()
    {
        // The reader itself: the pipeline names the formats and the providers, so a broken reader cannot pass the rules above.
        var imports = Imports();
        Assert.Contains("Wire", imports["Pipeline"]);
        Assert.Contains("Providers", imports["Pipeline"]);
        Assert.Contains("Redis", imports["Tenancy"]);
    }
}
