using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using OctoMesh.Edge.Privacy;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Bench.Tenancy;

/// <summary>
/// What tenancy adds per request: finding a client key among 10,000 (issued, by id and salted hash; or hashed whole),
/// and, for a <c>full</c> workspace only, redacting a 2 KB exchange (on the vault's writer, off the response path).
/// </summary>
public class TenancyBenchmarks
{
    private ClientKeyTable _table = null!;
    private string _issued = null!;
    private const string Whole = "sk-legacy-key-number-4242";
    private string _request = null!;

    [GlobalSetup]
    public void Setup()
    {
        var keys = new List<ClientKeyConfig>();
        for (var i = 0; i < 5_000; i++)
        {
            var (text, id, salt, hash) = IssuedKeys.Create();
            keys.Add(new ClientKeyConfig($"k{i}", hash, "w") { Id = id, Salt = salt });
            _issued = text;
            keys.Add(new ClientKeyConfig($"l{i}", SHA256.HashData(Encoding.UTF8.GetBytes($"sk-legacy-key-number-{i}")), "w"));
        }
        _table = new ClientKeyTable(keys);
        var turns = string.Join(",", Enumerable.Range(0, 12).Select(i =>
            $$"""{"role":"user","content":"Turn {{i}}: please summarise the refund for order {{4400 + i}} and mail it to ann{{i}}@example.com"}"""));
        _request = $$"""{"model":"gpt-4o-mini","max_tokens":256,"messages":[{{turns}}]}""";
    }

    [Benchmark]
    public bool AuthenticateIssued() => _table.Authenticate(_issued) is not null;

    [Benchmark]
    public bool AuthenticateWhole() => _table.Authenticate(Whole) is not null;

    [Benchmark]
    public int RedactExchange() => Redactor.RedactJson(_request).Length;
}
