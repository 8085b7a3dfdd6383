namespace OctoMesh.Edge.Tests;

/// <summary>
/// A private CA and a certificate it signed for 127.0.0.1 and localhost, made once per test run with <c>openssl</c>, in a
/// directory removed when the run ends. Servers the tests start over TLS (Redis, the simulator) use them; clients trust
/// the CA through a <c>caFile</c>.
/// </summary>
internal static class TestCertificates
{
    private static readonly Lazy<string> s_directory = new(Make);

    public static string CaFile => Path.Combine(s_directory.Value, "ca.pem");

    public static string ServerCertificate => Path.Combine(s_directory.Value, "server.pem");

    public static string ServerKey => Path.Combine(s_directory.Value, "server.key");

    private static string Make()
    {
        var directory = Directory.CreateTempSubdirectory("octomesh-certs-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        Run(directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=OctoMesh test CA",
            "-keyout", "ca.key", "-out", "ca.pem");
        Run(directory, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr");
        File.WriteAllText(Path.Combine(directory, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
        Run(directory, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "server.ext", "-out", "server.pem");
        return directory;
    }

    private static void Run(string directory, params string[] arguments)
    {
        var (exitCode, output) = Programs.RunAsync("openssl", arguments, directory).GetAwaiter().GetResult();
        Assert.True(exitCode == 0, $"openssl {string.Join(' ', arguments)}: {output}");
    }
}
