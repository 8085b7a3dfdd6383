using System.Text;
using OctoMesh.Edge.Cache;
using ZiggyCreatures.Caching.Fusion.Internals;
using ZiggyCreatures.Caching.Fusion.Internals.Distributed;

namespace OctoMesh.Edge.Tests.Cache;

public class AnswerSerializerTests
{
    private static readonly CachedAnswer s_answer = new(Encoding.UTF8.GetBytes("""{"id":"chatcmpl-1","choices":[]}"""),
        "application/json", Stream: false, "openai", "gpt-4o-mini", "team-a");

    [Fact]
    public void AnswersAndTimestampsRoundTripWithTheirWrapper()
    {
        var serializer = new AnswerSerializer();
        var metadata = new FusionCacheEntryMetadata(true, 11, "etag-1", 12, 4096, 2);
        var entry = new FusionCacheDistributedEntry<CachedAnswer>(s_answer, 100, 200, ["workspace:team-a"], metadata);
        var back = serializer.Deserialize<FusionCacheDistributedEntry<CachedAnswer>>(serializer.Serialize(entry))!;
        Assert.Equal(s_answer.Body, back.Value.Body);
        Assert.Equal((s_answer.ContentType, s_answer.Stream, s_answer.Provider, s_answer.Model, s_answer.Workspace),
            (back.Value.ContentType, back.Value.Stream, back.Value.Provider, back.Value.Model, back.Value.Workspace));
        Assert.Equal((100L, 200L, "workspace:team-a"), (back.Timestamp, back.LogicalExpirationTimestamp, Assert.Single(back.Tags!)));
        Assert.Equal((true, 11L, "etag-1", 12L, 4096L, (byte)2), (back.Metadata!.IsStale, back.Metadata.EagerExpirationTimestamp, back.Metadata.ETag,
            back.Metadata.LastModifiedTimestamp, back.Metadata.Size, back.Metadata.Priority));

        var tag = new FusionCacheDistributedEntry<long>(638_000_000_000_000_000, 1, 2, null, null);
        var tagBack = serializer.Deserialize<FusionCacheDistributedEntry<long>>(serializer.Serialize(tag))!;
        Assert.Equal((tag.Value, 1L, 2L, null, null), (tagBack.Value, tagBack.Timestamp, tagBack.LogicalExpirationTimestamp, tagBack.Tags, tagBack.Metadata));
    }

    [Fact]
    public void TheWrapperAddsFewBytesToAnAnswer()
    {
        var serializer = new AnswerSerializer();
        var texts = new[] { s_answer.ContentType, s_answer.Provider, s_answer.Model, s_answer.Workspace }.Sum(t => 1 + t.Length);
        var answerOnly = s_answer.Body.Length + 1 + texts + 1;
        var bare = serializer.Serialize(new FusionCacheDistributedEntry<CachedAnswer>(s_answer, 1, 2, null, null)).Length;
        var tagged = serializer.Serialize(new FusionCacheDistributedEntry<CachedAnswer>(s_answer, 1, 2, ["workspace:team-a"],
            new FusionCacheEntryMetadata(false, null, null, null, s_answer.Body.Length + 256, null))).Length;
        // Version, kind, two timestamps, the tag count and the metadata flag; then the tag and the size.
        Assert.Equal(20, bare - answerOnly);
        Assert.Equal(20 + 17 + 14, tagged - answerOnly);
    }

    [Fact]
    public void WhatIsNotAnEntryOfThisVersionIsRefused()
    {
        var serializer = new AnswerSerializer();
        Assert.Throws<NotSupportedException>(() => serializer.Serialize("text"));
        var bytes = serializer.Serialize(new FusionCacheDistributedEntry<long>(1, 1, 2, null, null));
        Assert.Throws<InvalidDataException>(() => serializer.Deserialize<FusionCacheDistributedEntry<CachedAnswer>>(bytes));
        bytes[0] = 9;
        Assert.Throws<InvalidDataException>(() => serializer.Deserialize<FusionCacheDistributedEntry<long>>(bytes));
        Assert.Throws<EndOfStreamException>(() => serializer.Deserialize<FusionCacheDistributedEntry<CachedAnswer>>(
            serializer.Serialize(new FusionCacheDistributedEntry<CachedAnswer>(s_answer, 1, 2, null, null))[..30]));
    }
}
