using System.Collections.Immutable;
using System.Text.Json;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tenancy;

/// <summary>One workspace or key as the store keeps it, with the revision that orders changes across replicas.</summary>
internal sealed record TenancyRecord(long Revision, WorkspaceConfig? Workspace, ClientKeyConfig? Key)
{
    /// <summary>The record's field in the store and in Redis: <c>w:NAME</c> or <c>k:ID</c>.</summary>
    public string Field => Workspace is not null ? WorkspaceField(Workspace.Name) : KeyField(Key!.Id!);

    public static string WorkspaceField(string name) => "w:" + name;

    public static string KeyField(string id) => "k:" + id;

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
        else
        {
            WriteKey(json, Key!, secrets);
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
            if (element.TryGetProperty("content", out var content))
            {
                return ContentPolicies.Parse(content.GetString()) is { } policy
                    ? new TenancyRecord(revision, new WorkspaceConfig(element.GetProperty("workspace").GetString()!, policy), null)
                    : null;
            }
            var id = element.GetProperty("id").GetString()!;
            if (!KeyIds.IsValid(id))
            {
                return null;
            }
            var key = new ClientKeyConfig(element.GetProperty("name").GetString()!, Convert.FromHexString(element.GetProperty("sha256").GetString()!),
                element.GetProperty("workspace").GetString()!)
            {
                Id = id,
                Salt = Convert.FromHexString(element.GetProperty("salt").GetString()!),
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
            ? [.. array.EnumerateArray().Select(item => item.GetString()!)]
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
