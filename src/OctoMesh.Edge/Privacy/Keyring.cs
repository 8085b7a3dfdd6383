using System.Security.Cryptography;
using System.Text.Json;

namespace OctoMesh.Edge.Privacy;

/// <summary>One content key of a workspace: its number (in each record it encrypted) and 32 bytes for AES-256-GCM.</summary>
internal sealed record ContentKey(int Id, DateTimeOffset Created, byte[] Bytes);

/// <summary>
/// The content keys of every workspace, in a file only this process's user can read (0600), replaced atomically on
/// each change. A workspace's newest key encrypts; older ones still decrypt what they encrypted (rotation). Forgetting
/// a workspace removes its keys from the file: what they encrypted can no longer be read, wherever a copy lies.
/// </summary>
internal sealed class Keyring
{
    private readonly Lock _gate = new();
    private readonly string _path;
    private Dictionary<string, List<ContentKey>> _keys = new(StringComparer.Ordinal);

    public Keyring(string path)
    {
        _path = path;
        if (!File.Exists(path))
        {
            return;
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            foreach (var workspace in document.RootElement.GetProperty("workspaces").EnumerateObject())
            {
                _keys[workspace.Name] = [.. workspace.Value.EnumerateArray().Select(key => new ContentKey(key.GetProperty("id").GetInt32(),
                    key.GetProperty("created").GetDateTimeOffset(), Convert.FromBase64String(key.GetProperty("key").GetString()!)))];
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // Starting without it would make new keys beside the lost ones: kept content would be split and half unreadable.
            throw new InvalidDataException($"{path} is damaged ({e.Message}). Restore it from a backup; the gateway does not start without it.", e);
        }
    }

    /// <summary>The workspace's newest key, made (and written down) on first use.</summary>
    public ContentKey Current(string workspace)
    {
        lock (_gate)
        {
            return _keys.TryGetValue(workspace, out var keys) && keys.Count > 0 ? keys[^1] : AddLocked(workspace);
        }
    }

    /// <summary>The key numbered <paramref name="id"/>, or null once the workspace is forgotten.</summary>
    public ContentKey? Find(string workspace, int id)
    {
        lock (_gate)
        {
            return _keys.TryGetValue(workspace, out var keys) ? keys.Find(k => k.Id == id) : null;
        }
    }

    /// <summary>A new key encrypts from now on; the old ones stay for reading.</summary>
    public ContentKey Rotate(string workspace)
    {
        lock (_gate)
        {
            return AddLocked(workspace);
        }
    }

    /// <summary>Destroys every key of the workspace; true when it had any.</summary>
    public bool Destroy(string workspace)
    {
        lock (_gate)
        {
            var next = new Dictionary<string, List<ContentKey>>(_keys, StringComparer.Ordinal);
            if (!next.Remove(workspace, out var removed))
            {
                return false;
            }
            Save(next);
            _keys = next;
            foreach (var key in removed)
            {
                CryptographicOperations.ZeroMemory(key.Bytes);
            }
            return true;
        }
    }

    public int Count(string workspace)
    {
        lock (_gate)
        {
            return _keys.TryGetValue(workspace, out var keys) ? keys.Count : 0;
        }
    }

    private ContentKey AddLocked(string workspace)
    {
        var existing = _keys.TryGetValue(workspace, out var keys) ? keys : [];
        var key = new ContentKey(existing.Count == 0 ? 1 : existing[^1].Id + 1, DateTimeOffset.UtcNow, RandomNumberGenerator.GetBytes(32));
        var next = new Dictionary<string, List<ContentKey>>(_keys, StringComparer.Ordinal) { [workspace] = [.. existing, key] };
        Save(next);
        _keys = next;
        return key;
    }

    private void Save(Dictionary<string, List<ContentKey>> keys) => Tenancy.AtomicFile.WriteJson(_path, json =>
    {
        json.WriteStartObject();
        json.WriteNumber("version", 1);
        json.WriteStartObject("workspaces");
        foreach (var (workspace, list) in keys.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            json.WriteStartArray(workspace);
            foreach (var key in list)
            {
                json.WriteStartObject();
                json.WriteNumber("id", key.Id);
                json.WriteString("created", key.Created.UtcDateTime);
                json.WriteBase64String("key", key.Bytes);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        json.WriteEndObject();
        json.WriteEndObject();
    });
}
