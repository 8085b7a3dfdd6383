using System.Text;
using OctoMesh.Edge.Cli;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Edge.Tests.Cli;

public class RouteExplainerTests
{
    private static readonly GatewayConfig s_config = ConfigLoader.Load(Encoding.UTF8.GetBytes("""
        { "providers": { "a": { "kind": "sim" }, "b": { "kind": "sim" } },
          "routes": [
            { "name": "code", "match": { "model": "chat", "task": "code" }, "targets": [ { "provider": "b", "model": "large" } ] },
            { "name": "gold", "match": { "model": "chat", "headers": { "x-tier": "gold" } }, "targets": [ { "provider": "a", "model": "medium" }, { "provider": "b", "model": "large" } ] }
          ],
          "models": { "chat": { "provider": "a", "model": "small" } } }
        """), _ => null).Config!;

    private static (int Code, string Output) Explain(string body, string? task = null, params (string, string)[] headers)
    {
        var output = new StringWriter { NewLine = "\n" };
        var code = RouteExplainer.Explain(output, s_config, Encoding.UTF8.GetBytes(body), task, null, headers.ToDictionary(h => h.Item1, h => h.Item2));
        return (code, output.ToString());
    }

    private const string Chat = """{"model":"chat","messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public void ExplainsTheRouteAndWhyEarlierOnesWereSkipped()
    {
        var (code, output) = Explain(Chat, headers: ("x-tier", "gold"));
        Assert.Equal(0, code);
        Assert.Equal("""
            request: model 'chat', task none, workspace none, tools no, images no, stream no, about 15 prompt tokens
              skipped route 'code': task is 'none', the route wants 'code'
            route 'gold' (priority); targets in the order tried:
              1. provider 'a', model 'medium'
              2. provider 'b', model 'large'

            """, output);
    }

    [Fact]
    public void FallsBackToTheAliasOrSaysNothingServesIt()
    {
        var (code, output) = Explain(Chat);
        Assert.Equal(0, code);
        Assert.EndsWith("  skipped route 'gold': header x-tier is not 'gold'\nno route matches; the model alias sends it to provider 'a', model 'small'\n", output);

        (code, output) = Explain(Chat.Replace("\"chat\"", "\"other\""));
        Assert.Equal(1, code);
        Assert.EndsWith("nothing serves model 'other': clients get 404 model_not_found\n", output);

        (code, output) = Explain("{\"model\":");
        Assert.Equal(2, code);
        Assert.StartsWith("The request is not one the gateway accepts: We could not parse the JSON body", output);
    }

    [Fact]
    public void TheDeclaredTaskCountsFromTheBodyToo()
    {
        var (_, output) = Explain(Chat.Replace("\"chat\",", "\"chat\",\"metadata\":{\"task\":\"code\"},"));
        Assert.Contains("route 'code' (priority)", output);
    }
}
