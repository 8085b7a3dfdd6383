using System.Text;
using OctoMesh.Routing.Configuration;

namespace OctoMesh.Routing.Tests.Configuration;

public class RedisConfigTests
{
    private static ConfigLoadResult Load(string redis) => ConfigLoader.Load(Encoding.UTF8.GetBytes($$"""
        { "providers": { "a": { "kind": "sim" } }, "models": { "*": { "provider": "a" } }, "redis": {{redis}} }
        """), name => name == "REDIS_PASSWORD" ? "from-env" : null);

    [Fact]
    public void OneSectionTakesAStackExchangeRedisConnectionStringCredentialsACaAndATimeout()
    {
        var redis = Load("""
            { "connection": "cache.internal:6380,ssl=true", "user": "octomesh", "password": "${REDIS_PASSWORD}",
              "caFile": "/etc/octomesh/redis-ca.pem", "timeoutMs": 50 }
            """).Config!.Redis;
        Assert.Equal(new RedisConfig("cache.internal:6380,ssl=true", new RedisCredentials("octomesh", "from-env"), "/etc/octomesh/redis-ca.pem", 50), redis);
        Assert.DoesNotContain("from-env", redis!.ToString());
        // Several hosts, Sentinel's service name, a host alone (port 6379): all StackExchange.Redis's own forms.
        Assert.Empty(Load("""{ "connection": "10.0.0.5:26379,10.0.0.6:26379,serviceName=mymaster" }""").Errors);
        Assert.Equal(new RedisConfig("localhost"), Load("""{ "connection": "localhost" }""").Config!.Redis);
    }

    [Fact]
    public void SecretsComeFromTheEnvironmentNotTheConnectionString() => Assert.Equal(
    [
        "$.redis.connection: 'password' is not accepted in the connection string: a secret would sit in the file. Fix: remove it and write \"password\" beside \"connection\" (the password as \"${REDIS_PASSWORD}\").",
        "$.redis.password: a key must be a ${ENV_NAME} reference; literal keys are not accepted in config files. Fix: put the key in an environment variable and write \"${ITS_NAME}\".",
    ], Load("""{ "connection": "127.0.0.1:6379,password=hunter2", "password": "hunter2" }""").Errors.Select(e => e.ToString()));

    [Fact]
    public void TheOldAddressFieldAndBadValuesAreReportedWithTheirFixes()
    {
        Assert.Equal(
            "$.redis.address: renamed. Fix: write it as \"connection\": a StackExchange.Redis configuration string such as \"10.0.0.5:6379\" or \"cache.internal:6380,ssl=true\".",
            Load("""{ "address": "10.0.0.5:6379" }""").Errors.Single().ToString());
        Assert.Equal(
        [
            "$.redis.connection: ' ' names no Redis server. Fix: write e.g. \"127.0.0.1:6379\".",
            "$.redis.user: a Redis user needs a password. Fix: add \"password\": \"${REDIS_PASSWORD}\".",
            "$.redis.caFile: expected a file name, got 3. Fix: write the path of the PEM file of the CA that signed Redis's certificate.",
        ], Load("""{ "connection": " ", "user": "u", "caFile": 3 }""").Errors.Select(e => e.ToString()));
        Assert.Equal("$.redis.connection: missing. Fix: write e.g. \"127.0.0.1:6379\".", Load("{}").Errors.Single().ToString());
    }
}
