using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Tenancy;

namespace OctoMesh.Edge.Cli;

/// <summary><c>octomesh key new</c> (a key for the configuration file) and <c>octomesh forget</c> (through a running gateway's admin API).</summary>
internal static class TenancyCommands
{
    public static Command Key()
    {
        var name = new Option<string>("--name") { Description = "A label for logs and usage, e.g. ci.", Required = true };
        var workspace = new Option<string>("--workspace") { Description = "The workspace the key acts for.", Required = true };
        var models = new Option<string[]>("--model") { Description = "A model name or prefix* pattern the key may use; may repeat (none: any)." };
        var expires = new Option<string?>("--expires") { Description = "When the key stops working, ISO 8601 (e.g. 2027-01-31T00:00:00Z)." };
        var create = new Command("new", "Make a client key: prints the key (once: only its salted hash is kept) and the clientKeys entry for the configuration file.")
        {
            name, workspace, models, expires,
        };
        create.SetAction(parse =>
        {
            var (key, id, salt, hash) = IssuedKeys.Create();
            Console.WriteLine(key);
            var entry = new MemoryStream();
            using (var json = new Utf8JsonWriter(entry, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("name", parse.GetValue(name));
                json.WriteString("workspace", parse.GetValue(workspace));
                json.WriteString("id", id);
                json.WriteString("salt", Convert.ToHexStringLower(salt));
                json.WriteString("sha256", Convert.ToHexStringLower(hash));
                if (parse.GetValue(models) is { Length: > 0 } allowed)
                {
                    json.WriteStartArray("models");
                    allowed.ToList().ForEach(json.WriteStringValue);
                    json.WriteEndArray();
                }
                if (parse.GetValue(expires) is { } expiry)
                {
                    json.WriteString("expires", expiry);
                }
                json.WriteEndObject();
            }
            Console.Error.WriteLine("The key above is shown this once. Add this to clientKeys:");
            Console.WriteLine(Encoding.UTF8.GetString(entry.ToArray()));
            return 0;
        });
        return new Command("key", "Client keys.") { create };
    }

    public static Command Forget()
    {
        var workspace = new Option<string>("--workspace") { Description = "The workspace whose content is to be destroyed.", Required = true };
        var url = new Option<string>("--url") { Description = "The running gateway.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var command = new Command("forget",
            "Destroy a workspace's content keys, kept exchanges and cached answers on every replica (billing records stay). The admin key is read from OCTOMESH_ADMIN_KEY.")
        {
            workspace, url,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (Environment.GetEnvironmentVariable("OCTOMESH_ADMIN_KEY") is not { Length: > 0 } adminKey)
            {
                Console.Error.WriteLine("Set OCTOMESH_ADMIN_KEY to an admin key of the gateway.");
                return 2;
            }
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var request = new HttpRequestMessage(HttpMethod.Post,
                new Uri(new Uri(parse.GetValue(url)!.TrimEnd('/') + "/"), $"admin/workspaces/{Uri.EscapeDataString(parse.GetValue(workspace)!)}/forget"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
            try
            {
                using var response = await http.SendAsync(request, cancellationToken);
                Console.WriteLine(await response.Content.ReadAsStringAsync(cancellationToken));
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                Console.Error.WriteLine($"No gateway answered at {parse.GetValue(url)}: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
