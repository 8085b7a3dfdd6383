using Microsoft.Extensions.Caching.Distributed;

namespace OctoMesh.Edge.Cache;

/// <summary>
/// The cache's Redis level as FusionCache sees it, counting the calls that fail (FusionCache logs them but has no count
/// for a metric), then failing them as they came so that its circuit breaker and fallbacks still see them.
/// </summary>
internal sealed class CountingDistributedCache(IDistributedCache inner) : IDistributedCache
{
    private long _errors;

    /// <summary>Calls that failed or timed out in the Redis client.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    public byte[]? Get(string key) => Count(() => inner.Get(key));

    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => CountAsync(inner.GetAsync(key, token));

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => Count(() => { inner.Set(key, value, options); return true; });

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        CountAsync(inner.SetAsync(key, value, options, token));

    public void Refresh(string key) => Count(() => { inner.Refresh(key); return true; });

    public Task RefreshAsync(string key, CancellationToken token = default) => CountAsync(inner.RefreshAsync(key, token));

    public void Remove(string key) => Count(() => { inner.Remove(key); return true; });

    public Task RemoveAsync(string key, CancellationToken token = default) => CountAsync(inner.RemoveAsync(key, token));

    private T Count<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _errors);
            throw;
        }
    }

    private async Task<T> CountAsync<T>(Task<T> call)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _errors);
            throw;
        }
    }

    private async Task CountAsync(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _errors);
            throw;
        }
    }
}
