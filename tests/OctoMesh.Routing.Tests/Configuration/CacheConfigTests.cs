using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class CacheConfigTests
{
    private static ConfigLoadResult Load(string cache) => ConfigLoader.Load(Encoding.UTF8.GetBytes(
        $$"""{ "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } }, "cache": {{cache}} }"""), _ => null);

    [Fact]
    public void TheCacheIsOffUnlessAsked()
    {
        Assert.Equal(new CacheConfig(), Load("{}").Config!.Cache);
        Assert.False(new CacheConfig().Exact);
        Assert.Equal(new CacheConfig(true, 120, 16, true, "127.0.0.1:6379", 20),
            Load("""{ "exact": true, "ttlSeconds": 120, "maxMegabytes": 16, "sharedAcrossWorkspaces": true, "redis": "127.0.0.1:6379", "redisTimeoutMs": 20 }""").Config!.Cache);
        Assert.Equal("$.cache.redis: 'localhost' is not host:port. Fix: write e.g. \"127.0.0.1:6379\".",
            Load("""{ "redis": "localhost" }""").Errors.Single().ToString());
    }

    [Fact]
    public void BadSettingsAreReportedWithTheirFixes() => Assert.Equal(
    [
        "$.cache.exact: expected true or false, got 'yes'. Fix: write true to answer repeated requests from the cache.",
        "$.cache.ttlSeconds: 0 is out of range. Fix: write a whole number of seconds from 1 to 2592000.",
        "$.cache.semantic: unknown field. Fix: remove it; the fields here are exact, ttlSeconds, maxMegabytes, sharedAcrossWorkspaces, redis, redisTimeoutMs.",
    ], Load("""{ "exact": "yes", "ttlSeconds": 0, "semantic": true }""").Errors.Select(e => e.ToString()).OrderBy(e => e.Contains("semantic")));
}
