using ZiggyCreatures.Caching.Fusion.Internals;
using ZiggyCreatures.Caching.Fusion.Internals.Distributed;
using ZiggyCreatures.Caching.Fusion.Serialization;

namespace OctoMesh.Edge.Cache;

/// <summary>
/// How FusionCache's entries are written to Redis: a compact binary form of its entry wrapper, with no reflection (own
/// code because System.Text.Json would write an answer's body, which is bytes, as base64: a third larger). FusionCache
/// keeps two kinds of entry there: answers, and the timestamps behind tags and clears (longs).
/// </summary>
internal sealed class AnswerSerializer : IFusionCacheSerializer
{
    private const byte Version = 1, Answer = 1, Timestamp = 2;

    public byte[] Serialize<T>(T? obj)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer))
        {
            writer.Write(Version);
            switch (obj)
            {
                case FusionCacheDistributedEntry<CachedAnswer> entry:
                    writer.Write(Answer);
                    WriteEntry(writer, entry.Timestamp, entry.LogicalExpirationTimestamp, entry.Tags, entry.Metadata);
                    WriteAnswer(writer, entry.Value);
                    break;
                case FusionCacheDistributedEntry<long> entry:
                    writer.Write(Timestamp);
                    WriteEntry(writer, entry.Timestamp, entry.LogicalExpirationTimestamp, entry.Tags, entry.Metadata);
                    writer.Write(entry.Value);
                    break;
                default:
                    throw new NotSupportedException($"The cache keeps answers and FusionCache's timestamps on Redis, not {typeof(T).Name}.");
            }
        }
        return buffer.ToArray();
    }

    public T? Deserialize<T>(byte[] data)
    {
        using var reader = new BinaryReader(new MemoryStream(data, writable: false));
        if (reader.ReadByte() != Version)
        {
            // Written by another version of the gateway: a miss, never a wrong answer.
            throw new InvalidDataException("a cache entry of another version");
        }
        var kind = reader.ReadByte();
        var (timestamp, expires, tags, metadata) = ReadEntry(reader);
        object entry = kind switch
        {
            Answer when typeof(T) == typeof(FusionCacheDistributedEntry<CachedAnswer>) =>
                new FusionCacheDistributedEntry<CachedAnswer>(ReadAnswer(reader), timestamp, expires, tags, metadata),
            Timestamp when typeof(T) == typeof(FusionCacheDistributedEntry<long>) =>
                new FusionCacheDistributedEntry<long>(reader.ReadInt64(), timestamp, expires, tags, metadata),
            _ => throw new InvalidDataException($"entry kind {kind} is not a {typeof(T).Name}"),
        };
        return (T)entry;
    }

    public ValueTask<byte[]> SerializeAsync<T>(T? obj, CancellationToken token = default) => ValueTask.FromResult(Serialize(obj));

    public ValueTask<T?> DeserializeAsync<T>(byte[] data, CancellationToken token = default) => ValueTask.FromResult(Deserialize<T>(data));

    private static void WriteEntry(BinaryWriter writer, long timestamp, long expires, string[]? tags, FusionCacheEntryMetadata? metadata)
    {
        writer.Write(timestamp);
        writer.Write(expires);
        writer.Write7BitEncodedInt(tags?.Length ?? 0);
        foreach (var tag in tags ?? [])
        {
            writer.Write(tag);
        }
        writer.Write(metadata is not null);
        if (metadata is not null)
        {
            writer.Write(metadata.IsStale);
            WriteOptional(writer, metadata.EagerExpirationTimestamp);
            WriteOptional(writer, metadata.LastModifiedTimestamp);
            WriteOptional(writer, metadata.Size);
            WriteOptional(writer, metadata.Priority);
            writer.Write(metadata.ETag is not null);
            if (metadata.ETag is { } etag)
            {
                writer.Write(etag);
            }
        }
    }

    private static (long Timestamp, long Expires, string[]? Tags, FusionCacheEntryMetadata? Metadata) ReadEntry(BinaryReader reader)
    {
        var timestamp = reader.ReadInt64();
        var expires = reader.ReadInt64();
        var count = reader.Read7BitEncodedInt();
        var tags = count == 0 ? null : new string[count];
        for (var i = 0; i < count; i++)
        {
            tags![i] = reader.ReadString();
        }
        FusionCacheEntryMetadata? metadata = null;
        if (reader.ReadBoolean())
        {
            var stale = reader.ReadBoolean();
            var eager = ReadOptional(reader);
            var modified = ReadOptional(reader);
            var size = ReadOptional(reader);
            var priority = (byte?)ReadOptional(reader);
            var etag = reader.ReadBoolean() ? reader.ReadString() : null;
            metadata = new FusionCacheEntryMetadata(stale, eager, etag, modified, size, priority);
        }
        return (timestamp, expires, tags, metadata);
    }

    private static void WriteAnswer(BinaryWriter writer, CachedAnswer answer)
    {
        writer.Write(answer.ContentType);
        writer.Write(answer.Stream);
        writer.Write(answer.Provider);
        writer.Write(answer.Model);
        writer.Write(answer.Workspace);
        writer.Write7BitEncodedInt(answer.Body.Length);
        writer.Write(answer.Body);
    }

    private static CachedAnswer ReadAnswer(BinaryReader reader)
    {
        var contentType = reader.ReadString();
        var stream = reader.ReadBoolean();
        var provider = reader.ReadString();
        var model = reader.ReadString();
        var workspace = reader.ReadString();
        var body = reader.ReadBytes(reader.Read7BitEncodedInt());
        return new CachedAnswer(body, contentType, stream, provider, model, workspace);
    }

    private static void WriteOptional(BinaryWriter writer, long? value)
    {
        writer.Write(value.HasValue);
        if (value is { } known)
        {
            writer.Write(known);
        }
    }

    private static long? ReadOptional(BinaryReader reader) => reader.ReadBoolean() ? reader.ReadInt64() : null;
}
