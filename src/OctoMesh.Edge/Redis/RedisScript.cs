using StackExchange.Redis;

namespace OctoMesh.Edge.Redis;

/// <summary>
/// A Lua script Redis runs as one atomic step. StackExchange.Redis sends it by its SHA-1 (EVALSHA) once the server has
/// it, and the whole text again when a server does not (a new one, or after SCRIPT FLUSH).
/// </summary>
internal sealed class RedisScript(string lua)
{
    public Task<RedisResult> EvaluateAsync(RedisConnection redis, RedisKey[] keys, RedisValue[] values) =>
        redis.WithinTimeout(redis.Database.ScriptEvaluateAsync(lua, keys, values));
}
