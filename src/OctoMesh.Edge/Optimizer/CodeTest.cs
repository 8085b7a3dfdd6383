using System.Diagnostics;
using System.Text.RegularExpressions;

namespace OctoMesh.Edge.Optimizer;

/// <summary>
/// The <c>code</c> checker: the answer's JavaScript, then the item's tests, run by Node.js under its permission model
/// (<c>--experimental-permission</c>: no file but the script may be read, none written, no child process or worker),
/// with 64 MB of heap and a time limit. It passes when the script exits 0. Node 20's permission model does not restrict
/// the network: run code tests where outbound traffic is blocked if the answers are not trusted.
/// </summary>
internal static partial class CodeTest
{
    public static bool Passes(string answer, string tests, TimeSpan timeout)
    {
        var code = Fenced().Match(answer) is { Success: true } block ? block.Groups[1].Value : answer;
        var script = Path.Combine(Path.GetTempPath(), $"octomesh-code-{Guid.NewGuid():N}.js");
        File.WriteAllText(script, code + "\n;\n" + tests + "\n");
        try
        {
            using var node = Process.Start(new ProcessStartInfo("node",
                ["--experimental-permission", $"--allow-fs-read={script}", "--max-old-space-size=64", "--no-warnings", script])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            // Drained, so a chatty script cannot block on a full pipe.
            node.OutputDataReceived += (_, _) => { };
            node.ErrorDataReceived += (_, _) => { };
            node.BeginOutputReadLine();
            node.BeginErrorReadLine();
            if (!node.WaitForExit(timeout))
            {
                node.Kill(entireProcessTree: true);
                return false;
            }
            return node.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("the code checker needs Node.js (node) on the PATH", e);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [GeneratedRegex(@"```(?:js|javascript|ts)?[ \t]*\r?\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex Fenced();
}
