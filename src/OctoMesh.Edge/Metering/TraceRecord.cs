using System.Buffers.Binary;

namespace OctoMesh.Edge.Metering;

/// <summary>What a 128-byte entry of the trace log holds.</summary>
internal enum TraceKind : byte
{
    /// <summary>One request: a <see cref="TraceRecord"/>.</summary>
    Request = 1,

    /// <summary>One admin call: who (key name), what (<see cref="AuditAction"/> in the operation byte), on which
    /// workspace, on what (a key id, in the model's slot), when, and its status; the same layout, the fields of a request's usage zero.</summary>
    Audit = 2,
}

/// <summary>What an audit record says an admin did.</summary>
internal enum AuditAction : byte
{
    PurgeCache = 1,
    ReadUsage = 2,
    ReadRoutes = 3,
    ReadTenancy = 4,
    CreateWorkspace = 5,
    UpdateWorkspace = 6,
    ForgetWorkspace = 7,
    ExportWorkspace = 8,
    RotateContentKey = 9,
    CreateKey = 10,
    RevokeKey = 11,
}

/// <summary>
/// The trace of one request as the log stores it: <see cref="Size"/> bytes, little-endian, version
/// <see cref="Version"/>. Names are stored as ids (<see cref="TraceNames"/>). Never any prompt or answer text.
/// <code>
///   0 u16 version      2 u8 kind (1 request, 2 audit)  3 u8 flags (1 stream, 2 hedged)   4 u16 status   6 u8 outcome   7 u8 cache
///   8 u64 process      16 u64 sequence   (together the record's unique id)
///  24 u64 request id hash (FNV-1a of x-request-id)                      32 i64 start, Unix µs
///  40 u32 total µs     44 u32 first byte µs (0: none)                   48 u32 gateway overhead µs
///  52 u32 workspace    56 u32 key        60 u32 route    64 u32 provider   68 u32 model    72 u32 task   (name ids; 0: none)
///  76 i32 prompt       80 i32 completion 84 i32 cached   88 i32 cache write 92 i32 reasoning  (tokens)
///  96 i64 cost, micro-dollars           104 u8 retries  105 u8 fallbacks  106 u8 operation  107..127 zero
/// </code>
/// </summary>
internal struct TraceRecord
{
    public const int Size = 128;
    public const ushort Version = 1;

    public const byte StreamFlag = 1, HedgedFlag = 2;

    public byte Flags;
    public ushort Status;
    public byte Outcome;
    public byte Cache;
    public ulong Process;
    public ulong Sequence;
    public ulong RequestIdHash;
    public long StartUnixMicros;
    public uint TotalMicros;
    public uint FirstByteMicros;
    public uint OverheadMicros;
    public uint Workspace, Key, Route, Provider, Model, Task;
    public int PromptTokens, CompletionTokens, CachedTokens, CacheWriteTokens, ReasoningTokens;
    public long CostMicros;
    /// <summary><see cref="TraceKind.Request"/> unless set (an audit record).</summary>
    public TraceKind Kind;
    public byte Retries;
    public byte Fallbacks;
    public byte Operation;

    /// <summary>The record's unique id across processes and restarts.</summary>
    public readonly UInt128 Id => new(Process, Sequence);

    public readonly void WriteTo(Span<byte> destination)
    {
        var d = destination[..Size];
        d.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(d, Version);
        d[2] = (byte)(Kind == 0 ? TraceKind.Request : Kind);
        d[3] = Flags;
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], Status);
        d[6] = Outcome;
        d[7] = Cache;
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Process);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Sequence);
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], RequestIdHash);
        BinaryPrimitives.WriteInt64LittleEndian(d[32..], StartUnixMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(d[40..], TotalMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(d[44..], FirstByteMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(d[48..], OverheadMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(d[52..], Workspace);
        BinaryPrimitives.WriteUInt32LittleEndian(d[56..], Key);
        BinaryPrimitives.WriteUInt32LittleEndian(d[60..], Route);
        BinaryPrimitives.WriteUInt32LittleEndian(d[64..], Provider);
        BinaryPrimitives.WriteUInt32LittleEndian(d[68..], Model);
        BinaryPrimitives.WriteUInt32LittleEndian(d[72..], Task);
        BinaryPrimitives.WriteInt32LittleEndian(d[76..], PromptTokens);
        BinaryPrimitives.WriteInt32LittleEndian(d[80..], CompletionTokens);
        BinaryPrimitives.WriteInt32LittleEndian(d[84..], CachedTokens);
        BinaryPrimitives.WriteInt32LittleEndian(d[88..], CacheWriteTokens);
        BinaryPrimitives.WriteInt32LittleEndian(d[92..], ReasoningTokens);
        BinaryPrimitives.WriteInt64LittleEndian(d[96..], CostMicros);
        d[104] = Retries;
        d[105] = Fallbacks;
        d[106] = Operation;
    }

    /// <summary>Reads a record of <paramref name="kind"/> (requests unless asked); false for another kind, another version or a short entry.</summary>
    public static bool TryRead(ReadOnlySpan<byte> s, out TraceRecord record, TraceKind kind = TraceKind.Request)
    {
        record = default;
        if (s.Length != Size || BinaryPrimitives.ReadUInt16LittleEndian(s) != Version || s[2] != (byte)kind)
        {
            return false;
        }
        record = new TraceRecord
        {
            // A request record reads back as it was written: with the kind left at 0.
            Kind = kind == TraceKind.Request ? 0 : kind,
            Flags = s[3],
            Status = BinaryPrimitives.ReadUInt16LittleEndian(s[4..]),
            Outcome = s[6],
            Cache = s[7],
            Process = BinaryPrimitives.ReadUInt64LittleEndian(s[8..]),
            Sequence = BinaryPrimitives.ReadUInt64LittleEndian(s[16..]),
            RequestIdHash = BinaryPrimitives.ReadUInt64LittleEndian(s[24..]),
            StartUnixMicros = BinaryPrimitives.ReadInt64LittleEndian(s[32..]),
            TotalMicros = BinaryPrimitives.ReadUInt32LittleEndian(s[40..]),
            FirstByteMicros = BinaryPrimitives.ReadUInt32LittleEndian(s[44..]),
            OverheadMicros = BinaryPrimitives.ReadUInt32LittleEndian(s[48..]),
            Workspace = BinaryPrimitives.ReadUInt32LittleEndian(s[52..]),
            Key = BinaryPrimitives.ReadUInt32LittleEndian(s[56..]),
            Route = BinaryPrimitives.ReadUInt32LittleEndian(s[60..]),
            Provider = BinaryPrimitives.ReadUInt32LittleEndian(s[64..]),
            Model = BinaryPrimitives.ReadUInt32LittleEndian(s[68..]),
            Task = BinaryPrimitives.ReadUInt32LittleEndian(s[72..]),
            PromptTokens = BinaryPrimitives.ReadInt32LittleEndian(s[76..]),
            CompletionTokens = BinaryPrimitives.ReadInt32LittleEndian(s[80..]),
            CachedTokens = BinaryPrimitives.ReadInt32LittleEndian(s[84..]),
            CacheWriteTokens = BinaryPrimitives.ReadInt32LittleEndian(s[88..]),
            ReasoningTokens = BinaryPrimitives.ReadInt32LittleEndian(s[92..]),
            CostMicros = BinaryPrimitives.ReadInt64LittleEndian(s[96..]),
            Retries = s[104],
            Fallbacks = s[105],
            Operation = s[106],
        };
        return true;
    }
}
