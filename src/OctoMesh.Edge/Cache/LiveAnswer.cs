namespace OctoMesh.Edge.Cache;

/// <summary>
/// A streamed answer on its way to the client whose request leads a single-flight: the followers (identical
/// requests that arrived meanwhile) are sent its bytes as they come, instead of waiting for it to be whole. The
/// leader appends; each follower reads from its own offset and waits for more. Bytes once appended never change.
/// </summary>
internal sealed class LiveAnswer
{
    /// <summary>Bytes held for followers at most; a longer answer cuts them there (and the leader's goes on).</summary>
    public const int Limit = 16 << 20;

    private readonly Lock _gate = new();
    // Empty until the first bytes: a request that ends up following, or fails before answering, holds nothing.
    private byte[] _bytes = [];
    private int _length;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Status { get; private set; }
    public string? ContentType { get; private set; }
    public string? Provider { get; private set; }
    public string? Model { get; private set; }

    /// <summary>The leader's first bytes went out: status and content type are known.</summary>
    public bool Started { get; private set; }

    /// <summary>The leader is done; <see cref="Whole"/> says whether the answer arrived whole.</summary>
    public bool Finished { get; private set; }

    public bool Whole { get; private set; }

    public void Start(int status, string? contentType, string? provider, string? model)
    {
        lock (_gate)
        {
            (Status, ContentType, Provider, Model, Started) = (status, contentType, provider, model, true);
            Pulse();
        }
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            if (Finished)
            {
                return;
            }
            if (_length + bytes.Length > Limit)
            {
                (Finished, Whole) = (true, false);
                Pulse();
                return;
            }
            if (_length + bytes.Length > _bytes.Length)
            {
                // A new array: followers still reading the old one see the same bytes there.
                var grown = new byte[Math.Max(Math.Max(_bytes.Length * 2, 4096), _length + bytes.Length)];
                _bytes.AsSpan(0, _length).CopyTo(grown);
                _bytes = grown;
            }
            bytes.CopyTo(_bytes.AsSpan(_length));
            _length += bytes.Length;
            Pulse();
        }
    }

    public void Finish(bool whole)
    {
        lock (_gate)
        {
            if (!Finished)
            {
                (Finished, Whole) = (true, whole);
                Pulse();
            }
        }
    }

    /// <summary>The bytes appended so far, as one array (the leader's copy of its whole answer, to keep).</summary>
    public byte[] Snapshot()
    {
        lock (_gate)
        {
            return _bytes.AsSpan(0, _length).ToArray();
        }
    }

    /// <summary>Waits until the leader has started or finished (then <see cref="Started"/> tells which).</summary>
    public async Task WaitStartAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (Started || Finished)
                {
                    return;
                }
                changed = _changed.Task;
            }
            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The bytes past <paramref name="offset"/>, waiting for some; empty once the leader has finished and all were read.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(int offset, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_length > offset)
                {
                    return _bytes.AsMemory(offset, _length - offset);
                }
                if (Finished)
                {
                    return ReadOnlyMemory<byte>.Empty;
                }
                changed = _changed.Task;
            }
            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Wakes every waiting follower (under the lock).</summary>
    private void Pulse()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }
}
