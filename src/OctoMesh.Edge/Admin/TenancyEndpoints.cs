using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OctoMesh.Edge.Cache;
using OctoMesh.Edge.Metering;
using OctoMesh.Edge.Privacy;
using OctoMesh.Edge.Wire;
using OctoMesh.Edge.Tenancy;
using OctoMesh.Routing.Configuration;
using OctoMesh.Edge.Pipeline;

namespace OctoMesh.Edge.Admin;

/// <summary>
/// Workspaces and keys through the admin API (admin keys only; every call an audit record):
/// <c>GET|POST /admin/workspaces</c>, <c>GET|PATCH /admin/workspaces/{name}</c>,
/// <c>POST /admin/workspaces/{name}/forget</c>, <c>POST /admin/workspaces/{name}/rotate</c>,
/// <c>GET /admin/workspaces/{name}/export</c>; <c>GET|POST /admin/keys</c>, <c>GET|DELETE /admin/keys/{id}</c>.
/// What the configuration file defines is listed but changed only in the file (409).
/// </summary>
internal sealed class TenancyEndpoints(GatewayRuntimeHolder runtimes, TenancyStore store, ContentVault vault, ExactCache cache, RequestMeter meter)
{
    private const int MaxBodyBytes = 64 * 1024;

    public Task ListWorkspacesAsync(HttpContext context) => AdminAsync(context, AuditAction.ReadTenancy, null, null, async () =>
    {
        var view = store.View(runtimes.Current.Config);
        await WriteJsonAsync(context, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("data");
            foreach (var workspace in view.Workspaces.Values.OrderBy(w => w.Name, StringComparer.Ordinal))
            {
                WriteWorkspace(json, workspace);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
    });

    public Task GetWorkspaceAsync(HttpContext context, string name) => AdminAsync(context, AuditAction.ReadTenancy, name, null, async () =>
    {
        if (await FindWorkspaceAsync(context, name) is { } workspace)
        {
            await WriteJsonAsync(context, StatusCodes.Status200OK, json => WriteWorkspace(json, workspace));
        }
    });

    public Task CreateWorkspaceAsync(HttpContext context)
    {
        string? name = null;
        return AuditedAsync(context, AuditAction.CreateWorkspace, () => name, () => null, async () =>
        {
            if (await ReadBodyAsync(context) is not { } body)
            {
                return;
            }
            using (body)
            {
                var root = body.RootElement;
                name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                if (!IsName(name))
                {
                    await BadRequestAsync(context, "name", "Give the workspace a name of 1–64 letters, digits, '.', '_' or '-'.");
                    return;
                }
                if (await ReadContentAsync(context, root, required: false) is not { } content)
                {
                    return;
                }
                var workspace = new WorkspaceConfig(name!, content);
                if (store.View(runtimes.Current.Config).Workspaces.ContainsKey(name!) || await store.CreateAsync(workspace) is null)
                {
                    await OpenAIError.WriteAsync(context.Response, StatusCodes.Status409Conflict, $"Workspace '{name}' exists already.",
                        OpenAIError.InvalidRequest, "name", "workspace_exists");
                    return;
                }
                await WriteJsonAsync(context, StatusCodes.Status201Created, json => WriteWorkspace(json, workspace));
            }
        });
    }

    public Task UpdateWorkspaceAsync(HttpContext context, string name) => AdminAsync(context, AuditAction.UpdateWorkspace, name, null, async () =>
    {
        if (await FindWorkspaceAsync(context, name) is null || !await EditableAsync(context, name) || await ReadBodyAsync(context) is not { } body)
        {
            return;
        }
        using (body)
        {
            if (await ReadContentAsync(context, body.RootElement, required: true) is not { } content)
            {
                return;
            }
            var workspace = (await store.PutAsync(new WorkspaceConfig(name, content), null)).Workspace!;
            await WriteJsonAsync(context, StatusCodes.Status200OK, json => WriteWorkspace(json, workspace));
        }
    });

    /// <summary>
    /// Destroys the workspace's content keys and kept exchanges and purges its cached answers, here and on every replica;
    /// its usage and billing records stay whole. Its keys and content policy are untouched.
    /// </summary>
    public Task ForgetWorkspaceAsync(HttpContext context, string name) => AdminAsync(context, AuditAction.ForgetWorkspace, name, null, async () =>
    {
        var destroyed = vault.Forget(name);
        await cache.PurgeAsync(name).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        // Recorded for every replica: those away now forget it when they are back.
        var shared = await store.ForgetAsync(name);
        await WriteJsonAsync(context, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("forgotten", name);
            json.WriteNumber("exchanges_destroyed", destroyed);
            json.WriteBoolean("cache_purged", true);
            json.WriteBoolean("shared_with_replicas", shared);
            json.WriteEndObject();
        });
    });

    public Task RotateAsync(HttpContext context, string name) => AdminAsync(context, AuditAction.RotateContentKey, name, null, async () =>
    {
        if (await FindWorkspaceAsync(context, name) is null)
        {
            return;
        }
        var key = vault.Keyring.Rotate(name);
        await WriteJsonAsync(context, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("workspace", name);
            json.WriteNumber("content_key", key.Id);
            json.WriteNumber("content_keys", vault.Keyring.Count(name));
            json.WriteEndObject();
        });
    });

    /// <summary>
    /// Everything this gateway holds for a workspace, as JSON Lines: the workspace, its keys (never their hashes), its
    /// kept exchanges (decrypted), its cached answers (here and on Redis) and its usage records from the trace log.
    /// </summary>
    public Task ExportWorkspaceAsync(HttpContext context, string name) => AdminAsync(context, AuditAction.ExportWorkspace, name, null, async () =>
    {
        if (await FindWorkspaceAsync(context, name) is not { } workspace)
        {
            return;
        }
        var view = store.View(runtimes.Current.Config);
        var output = new MemoryStream();
        void Line(Action<Utf8JsonWriter> write)
        {
            using (var json = new Utf8JsonWriter(output, OpenAIError.WriterOptions))
            {
                write(json);
            }
            output.WriteByte((byte)'\n');
        }
        Line(json => WriteWorkspace(json, workspace, "workspace"));
        foreach (var key in AllKeys(view).Where(k => k.Workspace == name))
        {
            Line(json => WriteKey(json, key, "key"));
        }
        foreach (var exchange in vault.Read(name))
        {
            Line(json =>
            {
                json.WriteStartObject();
                json.WriteString("type", "exchange");
                if (exchange is null)
                {
                    json.WriteBoolean("unreadable", true);
                }
                else
                {
                    exchange.WriteFields(json);
                }
                json.WriteEndObject();
            });
        }
        // On the thread pool whichever thread Redis's reply or failure came back on (inline I/O): the trace log is read below.
        foreach (var answer in await cache.HeldForAsync(name).ConfigureAwait(ConfigureAwaitOptions.ForceYielding))
        {
            Line(json =>
            {
                json.WriteStartObject();
                json.WriteString("type", "cached_answer");
                json.WriteString("provider", answer.Provider);
                json.WriteString("model", answer.Model);
                json.WriteString("content_type", answer.ContentType);
                json.WriteString("body", Encoding.UTF8.GetString(answer.Body));
                json.WriteEndObject();
            });
        }
        if (meter.TraceLog is { } traceLog)
        {
            using var reader = TraceReader.Open(traceLog.Directory);
            var report = new UsageReport(reader.Names, ExportFormat.Jsonl);
            var records = new MemoryStream();
            foreach (var record in BillingExport.StartedIn(reader, null, null).Where(r => report.GroupValue("workspace", r) == name))
            {
                report.WriteRecord(record);
            }
            report.CopyTo(records);
            foreach (var record in Encoding.UTF8.GetString(records.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                output.Write(Encoding.UTF8.GetBytes($"{{\"type\":\"request\",\"record\":{record}}}\n"));
            }
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/x-ndjson";
        await context.Response.Body.WriteAsync(output.GetBuffer().AsMemory(0, (int)output.Length), context.RequestAborted);
    });

    public Task ListKeysAsync(HttpContext context) => AdminAsync(context, AuditAction.ReadTenancy, context.Request.Query["workspace"].FirstOrDefault(), null, async () =>
    {
        var workspace = context.Request.Query["workspace"].FirstOrDefault();
        var view = store.View(runtimes.Current.Config);
        await WriteJsonAsync(context, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("data");
            foreach (var key in AllKeys(view).Where(k => workspace is null || k.Workspace == workspace))
            {
                WriteKey(json, key);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
    });

    public Task GetKeyAsync(HttpContext context, string id) => AdminAsync(context, AuditAction.ReadTenancy, null, id, async () =>
    {
        if (await FindKeyAsync(context, id) is { } key)
        {
            await WriteJsonAsync(context, StatusCodes.Status200OK, json => WriteKey(json, key));
        }
    });

    /// <summary>Makes a key and shows it, this once: only its salt and hash are kept.</summary>
    public Task CreateKeyAsync(HttpContext context)
    {
        string? workspace = null, id = null;
        return AuditedAsync(context, AuditAction.CreateKey, () => workspace, () => id, async () =>
        {
            if (await ReadBodyAsync(context) is not { } body)
            {
                return;
            }
            using (body)
            {
                var root = body.RootElement;
                string? Text(string field) => root.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
                var name = Text("name");
                workspace = Text("workspace");
                if (!IsName(name))
                {
                    await BadRequestAsync(context, "name", "Give the key a name (a label for logs and usage) of 1–64 letters, digits, '.', '_' or '-'.");
                    return;
                }
                if (workspace is null || !store.View(runtimes.Current.Config).Workspaces.ContainsKey(workspace))
                {
                    await OpenAIError.WriteAsync(context.Response, StatusCodes.Status404NotFound,
                        $"No workspace '{workspace}'. Name one from GET /admin/workspaces, or create it with POST /admin/workspaces.",
                        OpenAIError.InvalidRequest, "workspace", "workspace_not_found");
                    return;
                }
                if (!TryNames(root, "models", patterns: true, out var models) || !TryNames(root, "routes", patterns: false, out var routes))
                {
                    await BadRequestAsync(context, models.IsDefault ? "models" : "routes",
                        "models is an array of model names or prefix* patterns; routes an array of route names this gateway has.");
                    return;
                }
                var unknownRoute = routes.FirstOrDefault(r => !runtimes.Current.Config.Routes.Any(d => d.Name == r));
                if (unknownRoute is not null)
                {
                    await BadRequestAsync(context, "routes", $"There is no route '{unknownRoute}'. GET /admin/routes lists them.");
                    return;
                }
                DateTimeOffset? expires = null;
                if (root.TryGetProperty("expires", out var given) && given.ValueKind != JsonValueKind.Null)
                {
                    var text = given.ValueKind == JsonValueKind.String ? given.GetString() : null;
                    if (text is null || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) || parsed <= DateTimeOffset.UtcNow)
                    {
                        await BadRequestAsync(context, "expires", "expires is a future ISO 8601 time, e.g. 2027-01-31T00:00:00Z.");
                        return;
                    }
                    expires = parsed.ToUniversalTime();
                }
                var (secret, newId, salt, hash) = IssuedKeys.Create();
                id = newId;
                var key = new ClientKeyConfig(name!, hash, workspace)
                {
                    Id = newId, Salt = salt, Models = models, Routes = routes, ExpiresAt = expires, CreatedAt = DateTimeOffset.UtcNow,
                };
                await store.PutAsync(null, key);
                await WriteJsonAsync(context, StatusCodes.Status201Created, json => WriteKey(json, key, shown: secret));
            }
        });
    }

    /// <summary>Revokes a key: refused from now on, here and (within the time Redis takes to tell them) on every replica.</summary>
    public Task RevokeKeyAsync(HttpContext context, string id)
    {
        string? workspace = null;
        return AuditedAsync(context, AuditAction.RevokeKey, () => workspace, () => id, async () =>
        {
            if (await FindKeyAsync(context, id) is not { } key)
            {
                return;
            }
            workspace = key.Workspace;
            if (key.CreatedAt is null)
            {
                await OpenAIError.WriteAsync(context.Response, StatusCodes.Status409Conflict,
                    $"Key '{id}' is defined in the configuration file: remove it there (the file is reloaded on change).",
                    OpenAIError.InvalidRequest, code: "defined_in_config");
                return;
            }
            var revoked = key.RevokedAt is null ? (await store.PutAsync(null, key with { RevokedAt = DateTimeOffset.UtcNow })).Key! : key;
            await WriteJsonAsync(context, StatusCodes.Status200OK, json => WriteKey(json, revoked));
        });
    }

    private Task AdminAsync(HttpContext context, AuditAction action, string? workspace, string? subject, Func<Task> handle) =>
        AuditedAsync(context, action, () => workspace, () => subject, handle);

    /// <summary>Admits an admin key, runs the call, and records it (with what it acted on, known once it ran) whatever happened.</summary>
    private async Task AuditedAsync(HttpContext context, AuditAction action, Func<string?> workspace, Func<string?> subject, Func<Task> handle)
    {
        if (await AdminAccess.AdmitAsync(runtimes.Current, context) is not { } admin)
        {
            return;
        }
        try
        {
            await handle();
        }
        finally
        {
            // Only well-formed names reach the trace log's names table, whatever an admin typed.
            meter.Audit(admin, action, workspace() is { } name && IsName(name) ? name : null, context.Response.StatusCode, context.TraceIdentifier,
                subject() is { } id && KeyIds.IsValid(id) ? id : null);
        }
    }

    private IEnumerable<ClientKeyConfig> AllKeys(TenantView view) =>
        runtimes.Current.Config.ClientKeys.Where(k => k.Id is null).Concat(view.Keys.Issued).OrderBy(k => k.Workspace, StringComparer.Ordinal)
            .ThenBy(k => k.Name, StringComparer.Ordinal);

    private async Task<WorkspaceConfig?> FindWorkspaceAsync(HttpContext context, string name)
    {
        if (store.View(runtimes.Current.Config).Workspaces.TryGetValue(name, out var workspace))
        {
            return workspace;
        }
        await OpenAIError.WriteAsync(context.Response, StatusCodes.Status404NotFound, $"No workspace '{name}'. GET /admin/workspaces lists them.",
            OpenAIError.InvalidRequest, code: "workspace_not_found");
        return null;
    }

    private async Task<ClientKeyConfig?> FindKeyAsync(HttpContext context, string id)
    {
        if (store.View(runtimes.Current.Config).Keys.Find(id) is { } key)
        {
            return key;
        }
        await OpenAIError.WriteAsync(context.Response, StatusCodes.Status404NotFound, $"No key with id '{id}'. GET /admin/keys lists them.",
            OpenAIError.InvalidRequest, code: "key_not_found");
        return null;
    }

    private async Task<bool> EditableAsync(HttpContext context, string name)
    {
        if (!runtimes.Current.Config.Workspaces.Any(w => w.Name == name))
        {
            return true;
        }
        await OpenAIError.WriteAsync(context.Response, StatusCodes.Status409Conflict,
            $"Workspace '{name}' is defined in the configuration file: change it there (the file is reloaded on change).",
            OpenAIError.InvalidRequest, code: "defined_in_config");
        return false;
    }

    private static async Task<JsonDocument?> ReadBodyAsync(HttpContext context)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes;
        }
        try
        {
            // Back on the thread pool after the body (inline I/O): the handlers go on to write files.
            var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted)
                .ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }
            document.Dispose();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await OpenAIError.WriteAsync(context.Response, StatusCodes.Status413PayloadTooLarge, $"Admin bodies are at most {MaxBodyBytes} bytes.",
                OpenAIError.InvalidRequest, code: "request_too_large");
            return null;
        }
        catch (Exception e) when (e is JsonException or BadHttpRequestException or IOException)
        {
            // Answered below (a client gone meanwhile does not read it).
        }
        await OpenAIError.WriteAsync(context.Response, StatusCodes.Status400BadRequest, "The body must be a JSON object.", OpenAIError.InvalidRequest,
            code: "invalid_json");
        return null;
    }

    private static async Task<ContentPolicy?> ReadContentAsync(HttpContext context, JsonElement root, bool required)
    {
        if (!root.TryGetProperty("content", out var content) && !required)
        {
            return ContentPolicy.None;
        }
        if (content.ValueKind == JsonValueKind.String && ContentPolicies.Parse(content.GetString()) is { } policy)
        {
            return policy;
        }
        await BadRequestAsync(context, "content", "content is \"none\" (nothing kept), \"cache\" (answers may be cached) or \"full\" (also kept, encrypted, for evaluation).");
        return null;
    }

    private static bool TryNames(JsonElement root, string field, bool patterns, out ImmutableArray<string> names)
    {
        names = [];
        if (!root.TryGetProperty(field, out var array))
        {
            return true;
        }
        if (array.ValueKind != JsonValueKind.Array)
        {
            names = default;
            return false;
        }
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var item in array.EnumerateArray())
        {
            var text = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
            var valid = patterns
                ? text is { Length: > 0 and <= 256 } && (text.IndexOf('*') < 0 || text.IndexOf('*') == text.Length - 1)
                : IsName(text);
            if (!valid)
            {
                names = default;
                return false;
            }
            builder.Add(text!);
        }
        names = builder.ToImmutable();
        return true;
    }

    private static bool IsName(string? name) =>
        name is { Length: > 0 and <= 64 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static Task BadRequestAsync(HttpContext context, string param, string message) =>
        OpenAIError.WriteAsync(context.Response, StatusCodes.Status400BadRequest, message, OpenAIError.InvalidRequest, param, "invalid_value");

    private void WriteWorkspace(Utf8JsonWriter json, WorkspaceConfig workspace, string? type = null)
    {
        json.WriteStartObject();
        if (type is not null)
        {
            json.WriteString("type", type);
        }
        json.WriteString("name", workspace.Name);
        json.WriteString("content", ContentPolicies.Name(workspace.Content));
        json.WriteString("source", runtimes.Current.Config.Workspaces.Contains(workspace) ? "config" : "api");
        json.WriteNumber("content_keys", vault.Keyring.Count(workspace.Name));
        json.WriteEndObject();
    }

    /// <summary>A key's public fields; <paramref name="shown"/> is the key itself, written only in the answer that creates it.</summary>
    private static void WriteKey(Utf8JsonWriter json, ClientKeyConfig key, string? type = null, string? shown = null)
    {
        json.WriteStartObject();
        if (type is not null)
        {
            json.WriteString("type", type);
        }
        if (shown is not null)
        {
            json.WriteString("key", shown);
        }
        TenancyRecord.WriteKey(json, key, secrets: false);
        json.WriteString("source", key.CreatedAt is null ? "config" : "api");
        json.WriteString("status", key.RevokedAt is not null ? "revoked" : key.ExpiresAt <= DateTimeOffset.UtcNow ? "expired" : "active");
        json.WriteEndObject();
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer, OpenAIError.WriterOptions))
        {
            write(json);
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }
}
