using System.Text;
using OctoMesh.Edge.Cache;

namespace OctoMesh.Edge.Tests.Cache;

public class ExactCacheKeyTests
{
    private static string Key(string body, string scope = "team-a", string provider = "openai", string model = "gpt-4o-mini")
        => ExactCacheKey.Key(ExactCacheKey.Digest(Encoding.UTF8.GetBytes(body)), scope, "json", provider, model);

    private const string Body = """{"model":"fast","messages":[{"role":"user","content":"What is 6 * 7?"}],"temperature":0}""";

    [Fact]
    public void FieldsThatDoNotChangeTheAnswerAndSpacingDoNotChangeTheKey()
    {
        var key = Key(Body);
        Assert.Equal(32, key.Length);
        Assert.Equal(key, Key("""
            { "model": "another-alias", "stream": true, "stream_options": { "include_usage": true },
              "messages": [ { "role": "user", "content": "What is 6 * 7?" } ], "temperature": 0,
              "user": "u-1", "metadata": { "trace": "x" }, "store": false }
            """));
    }

    [Theory]
    [InlineData("""{"model":"fast","messages":[{"role":"user","content":"What is 6 * 8?"}],"temperature":0}""")]
    [InlineData("""{"model":"fast","messages":[{"role":"user","content":"What is 6 * 7?"}],"temperature":1}""")]
    [InlineData("""{"model":"fast","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 6 * 7?"}],"temperature":0}""")]
    [InlineData("""{"model":"fast","messages":[{"role":"user","content":"What is 6 * 7?"}],"temperature":0,"tools":[{"type":"function","function":{"name":"calc"}}]}""")]
    [InlineData("""{"model":"fast","messages":[{"role":"user","content":"What is 6 * 7?"}],"temperature":0,"max_tokens":5}""")]
    [InlineData("""{"model":"fast","messages":[{"role":"user","content":"What is 6 * 7?"}],"temperature":0,"n":2}""")]
    public void WhatChangesTheAnswerChangesTheKey(string other) => Assert.NotEqual(Key(Body), Key(other));

    [Fact]
    public void TheScopeTheProviderAndTheResolvedModelAreInTheKey()
    {
        Assert.NotEqual(Key(Body), Key(Body, scope: "team-b"));
        Assert.NotEqual(Key(Body), Key(Body, provider: "azure"));
        Assert.NotEqual(Key(Body), Key(Body, model: "gpt-4o"));
        // A nested "model" is part of the content, not the request's model.
        Assert.NotEqual(Key("""{"messages":[{"role":"user","content":"a","model":"x"}]}"""), Key("""{"messages":[{"role":"user","content":"a","model":"y"}]}"""));
        // Token boundaries count.
        Assert.NotEqual(Key("""{"stop":["ab","c"]}"""), Key("""{"stop":["a","bc"]}"""));
    }
}
