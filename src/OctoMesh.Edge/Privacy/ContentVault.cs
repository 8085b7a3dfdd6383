using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace OctoMesh.Edge.Privacy;

/// <summary>One exchange of a <c>full</c> workspace, as it is kept for evaluation (after redaction).</summary>
/// <param name="Task">The task the request declared or was classified as (what an optimizer's workload is labelled by).</param>
internal sealed record KeptExchange(DateTimeOffset Time, string RequestId, string Api, string? Route, string? Provider, string? Model,
    string Request, string Answer, string? Task = null)
{
    /// <summary>Its fields, as the vault encrypts them and the access export shows them.</summary>
    public void WriteFields(Utf8JsonWriter json)
    {
        json.WriteString("time", Time.UtcDateTime);
        json.WriteString("request_id", RequestId);
        json.WriteString("api", Api);
        json.WriteString("route", Route);
        json.WriteString("provider", Provider);
        json.WriteString("model", Model);
        json.WriteString("task", Task);
        json.WriteString("request", Request);
        json.WriteString("answer", Answer);
    }
}

/// <summary>
/// The exchanges of workspaces whose content policy is <c>full</c>: redacted (<see cref="Redactor"/>), encrypted
/// with the workspace's current key (<see cref="Keyring"/>, AES-256-GCM, the workspace's name as associated data),
/// and appended, one line each, to the workspace's file. Written by one background task, off the response path.
/// Forgetting a workspace destroys its keys first (every copy of the file becomes unreadable) and then deletes the file.
/// <code>line = keyId "." base64(nonce[12] ‖ ciphertext ‖ tag[16]) "\n"</code>
/// </summary>
internal sealed class ContentVault : IAsyncDisposable
{
    private const int NonceBytes = 12, TagBytes = 16;
    private const int Backlog = 4096;

    private readonly string _directory;
    /// <summary>Exchanges to write, and flush marks (<see cref="Pending.Flushed"/>). Full: <see cref="Keep"/> drops, a flush waits.</summary>
    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Backlog) { SingleReader = true });
    /// <summary>Per workspace, how many times it was forgotten: what was queued before a forget is not written after it.</summary>
    private readonly ConcurrentDictionary<string, long> _generations = new(StringComparer.Ordinal);
    private readonly Lock _files = new();
    private readonly Task _writer;
    private long _dropped;

    public ContentVault(string directory, Keyring keyring)
    {
        _directory = Path.Combine(directory, "content");
        Keyring = keyring;
        _writer = Task.Run(WriteAsync);
    }

    public Keyring Keyring { get; }

    /// <summary>Exchanges not kept because the writer was behind by <see cref="Backlog"/>.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>How many times the workspace was forgotten: taken when a request starts, so one under way across a forget is not kept.</summary>
    public long Generation(string workspace) => _generations.GetValueOrDefault(workspace);

    /// <summary>Queues an exchange to keep (redacted and encrypted by the writer), unless its workspace was forgotten since <paramref name="generation"/>.</summary>
    public void Keep(string workspace, long generation, KeptExchange exchange)
    {
        if (!_queue.Writer.TryWrite(new Pending(workspace, generation, exchange, null)))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Waits until everything queued so far is on disk (for tests and shutdown).</summary>
    public async Task FlushAsync()
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.Writer.WriteAsync(new Pending("", 0, null, flushed));
        await flushed.Task;
    }

    private sealed record Pending(string Workspace, long Generation, KeptExchange? Exchange, TaskCompletionSource? Flushed);

    /// <summary>Destroys the workspace's keys, then its file. Returns how many kept exchanges became unreadable.</summary>
    public int Forget(string workspace)
    {
        _generations.AddOrUpdate(workspace, 1, (_, generation) => generation + 1);
        lock (_files)
        {
            var path = PathOf(workspace);
            var lines = File.Exists(path) ? File.ReadLines(path).Count() : 0;
            Keyring.Destroy(workspace);
            if (File.Exists(path))
            {
                File.Delete(path);
            }
            return lines;
        }
    }

    /// <summary>The workspace's kept exchanges, decrypted; an exchange whose key is gone (forgotten) comes back null.</summary>
    public IEnumerable<KeptExchange?> Read(string workspace)
    {
        string[] lines;
        lock (_files)
        {
            var path = PathOf(workspace);
            lines = File.Exists(path) ? File.ReadAllLines(path) : [];
        }
        foreach (var line in lines)
        {
            yield return Decrypt(workspace, line);
        }
    }

    /// <summary>Reads one line of a workspace's file with the keys in the keyring; null when no key opens it.</summary>
    public KeptExchange? Decrypt(string workspace, string line)
    {
        var dot = line.IndexOf('.');
        if (dot <= 0 || !int.TryParse(line.AsSpan(0, dot), out var keyId) || Keyring.Find(workspace, keyId) is not { } key)
        {
            return null;
        }
        try
        {
            var sealedBytes = Convert.FromBase64String(line[(dot + 1)..]);
            if (sealedBytes.Length < NonceBytes + TagBytes)
            {
                return null;
            }
            var plain = new byte[sealedBytes.Length - NonceBytes - TagBytes];
            using var aes = new AesGcm(key.Bytes, TagBytes);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes, plain.Length), sealedBytes.AsSpan(^TagBytes), plain,
                Encoding.UTF8.GetBytes(workspace));
            using var document = JsonDocument.Parse(plain);
            var root = document.RootElement;
            string? Text(string name) => root.TryGetProperty(name, out var value) ? value.GetString() : null;
            return new KeptExchange(root.GetProperty("time").GetDateTimeOffset(), Text("request_id")!, Text("api")!, Text("route"), Text("provider"),
                Text("model"), Text("request")!, Text("answer")!, Text("task"));
        }
        catch (Exception e) when (e is FormatException or CryptographicException or JsonException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The workspace's file: named by a hash of the name, so no name can reach outside the directory.</summary>
    public string PathOf(string workspace) =>
        Path.Combine(_directory, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(workspace)))[..32] + ".log");

    private async Task WriteAsync()
    {
        await foreach (var (workspace, generation, exchange, flushed) in _queue.Reader.ReadAllAsync())
        {
            if (exchange is null)
            {
                flushed?.TrySetResult();
                continue;
            }
            try
            {
                Append(workspace, generation, exchange);
            }
            catch (Exception)
            {
                // A disk, permission or keyring failure loses this exchange (counted), never the writer.
                Interlocked.Increment(ref _dropped);
            }
        }
    }

    private void Append(string workspace, long generation, KeptExchange exchange)
    {
        var plain = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(plain))
        {
            json.WriteStartObject();
            (exchange with { Request = Redactor.RedactJson(exchange.Request), Answer = Redactor.RedactJson(exchange.Answer) }).WriteFields(json);
            json.WriteEndObject();
        }
        lock (_files)
        {
            // Forgotten since it was queued: not written (and no new key made for it).
            if (_generations.GetValueOrDefault(workspace) != generation)
            {
                return;
            }
            var key = Keyring.Current(workspace);
            var sealedBytes = new byte[NonceBytes + plain.WrittenCount + TagBytes];
            RandomNumberGenerator.Fill(sealedBytes.AsSpan(0, NonceBytes));
            using (var aes = new AesGcm(key.Bytes, TagBytes))
            {
                aes.Encrypt(sealedBytes.AsSpan(0, NonceBytes), plain.WrittenSpan, sealedBytes.AsSpan(NonceBytes, plain.WrittenCount),
                    sealedBytes.AsSpan(^TagBytes), Encoding.UTF8.GetBytes(workspace));
            }
            Directory.CreateDirectory(_directory);
            using var file = new FileStream(PathOf(workspace), Tenancy.AtomicFile.Private(FileMode.Append));
            file.Write(Encoding.ASCII.GetBytes($"{key.Id}.{Convert.ToBase64String(sealedBytes)}\n"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }
}
