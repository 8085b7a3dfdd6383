using System.Collections.Immutable;
using System.Text.Json;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tenancy;

/// <summary>
/// One workspace, key, or forgetting of a workspace's content, as the store keeps it, with the revision that orders
/// changes across replicas: a Redis counter times 65,536 plus a tag of the writing process, so two replicas never
/// give one record the same revision (not even one that counted alone while Redis was away).
/// </summary>
internal sealed record TenancyRecord(long Revision, WorkspaceConfig? Workspace, ClientKeyConfig? Key, string? Forgotten = null)
{
    /// <summary>The record's field in the store and in Redis: <c>w:NAME</c>, <c>k:ID</c> or <c>f:NAME</c>.</summary>
    public string Field => Workspace is not null ? "w:" + Workspace.Name : Key is not null ? "k:" + Key.Id : "f:" + Forgotten;

    /// <summary>
    /// Whether <paramref name="incoming"/> replaces <paramref name="current"/>: a later revision does, except that a
    /// revocation is never undone (a key revoked anywhere stays revoked, whatever order the news arrives in).
    /// </summary>
    public static TenancyRecord? Merge(TenancyRecord? current, TenancyRecord incoming)
    {
        if (current is null)
        {
            return incoming;
        }
        var winner = incoming.Revision > current.Revision ? incoming : current;
        if (winner.Key is { RevokedAt: null } key && (current.Key?.RevokedAt ?? incoming.Key?.RevokedAt) is { } revoked)
        {
            winner = winner with { Key = key with { RevokedAt = revoked } };
        }
        return winner == current ? null : winner;
    }

    public void Write(Utf8JsonWriter json, bool secrets)
    {
        json.WriteStartObject();
        if (Workspace is { } workspace)
        {
            json.WriteString("workspace", workspace.Name);
            json.WriteString("content", ContentPolicies.Name(workspace.Content));
        }
        else if (Key is { } key)
        {
            WriteKey(json, key, secrets);
        }
        else
        {
            json.WriteString("forgotten", Forgotten);
        }
        json.WriteNumber("revision", Revision);
        json.WriteEndObject();
    }

    /// <summary>A key's fields: never the key; its salt and hash only where the store itself is written (<paramref name="secrets"/>).</summary>
    public static void WriteKey(Utf8JsonWriter json, ClientKeyConfig key, bool secrets)
    {
        json.WriteString("id", key.Id);
        json.WriteString("name", key.Name);
        json.WriteString("workspace", key.Workspace);
        if (secrets)
        {
            json.WriteString("salt", Convert.ToHexStringLower(key.Salt!));
            json.WriteString("sha256", Convert.ToHexStringLower(key.Sha256));
        }
        WriteNames(json, "models", key.Models);
        WriteNames(json, "routes", key.Routes);
        WriteInstant(json, "expires", key.ExpiresAt);
        WriteInstant(json, "created", key.CreatedAt);
        WriteInstant(json, "revoked", key.RevokedAt);
    }

    /// <summary>The record in <paramref name="element"/>, or null when it is not one (a newer or damaged writer).</summary>
    public static TenancyRecord? Read(JsonElement element)
    {
        try
        {
            var revision = element.GetProperty("revision").GetInt64();
            string? Text(string name) => element.TryGetProperty(name, out var value) && value.GetString() is { Length: > 0 } text ? text : null;
            if (element.TryGetProperty("forgotten", out _))
            {
                return Text("forgotten") is { } forgotten ? new TenancyRecord(revision, null, null, forgotten) : null;
            }
            if (element.TryGetProperty("content", out var content))
            {
                return ContentPolicies.Parse(content.GetString()) is { } policy && Text("workspace") is { } name
                    ? new TenancyRecord(revision, new WorkspaceConfig(name, policy), null)
                    : null;
            }
            if (Text("id") is not { } id || !KeyIds.IsValid(id) || Text("name") is not { } keyName || Text("workspace") is not { } keyWorkspace)
            {
                return null;
            }
            var key = new ClientKeyConfig(keyName, Convert.FromHexString(Text("sha256") ?? ""), keyWorkspace)
            {
                Id = id,
                Salt = Convert.FromHexString(Text("salt") ?? ""),
                Models = ReadNames(element, "models"),
                Routes = ReadNames(element, "routes"),
                ExpiresAt = ReadInstant(element, "expires"),
                CreatedAt = ReadInstant(element, "created"),
                RevokedAt = ReadInstant(element, "revoked"),
            };
            return key.Sha256.Length == 32 && key.Salt.Length == IssuedKeys.SaltBytes ? new TenancyRecord(revision, null, key) : null;
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static void WriteNames(Utf8JsonWriter json, string name, ImmutableArray<string> names)
    {
        json.WriteStartArray(name);
        foreach (var item in names)
        {
            json.WriteStringValue(item);
        }
        json.WriteEndArray();
    }

    private static ImmutableArray<string> ReadNames(JsonElement element, string name) =>
        element.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? [.. array.EnumerateArray().Select(item => item.GetString()).OfType<string>()]
            : [];

    private static void WriteInstant(Utf8JsonWriter json, string name, DateTimeOffset? instant)
    {
        if (instant is { } value)
        {
            json.WriteString(name, value.UtcDateTime);
        }
    }

    private static DateTimeOffset? ReadInstant(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetDateTimeOffset() : null;
}
