using System.Buffers;
using System.Text;

namespace OctoMesh.Edge.Cache.Redis;

/// <summary>The kinds of RESP2 reply.</summary>
internal enum RespKind
{
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,
    Null,
}

/// <summary>One Redis reply (RESP2): a simple string, an error, an integer, a bulk string, an array of replies, or null.</summary>
internal sealed class RespValue
{
    public static readonly RespValue Nil = new(RespKind.Null);

    private RespValue(RespKind kind) => Kind = kind;

    public RespKind Kind { get; }
    public long Integer { get; private init; }
    /// <summary>A bulk string's bytes, or a simple string's or error's text as UTF-8.</summary>
    public byte[]? Bytes { get; private init; }
    public RespValue[]? Items { get; private init; }

    public bool IsNull => Kind == RespKind.Null;

    /// <summary>The text of a string or an error.</summary>
    public string? Text => Bytes is null ? null : Encoding.UTF8.GetString(Bytes);

    public override string ToString() => Kind switch
    {
        RespKind.Integer => Integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        RespKind.Array => $"[{string.Join(", ", Items!.Select(i => i.ToString()))}]",
        RespKind.Null => "(nil)",
        _ => Text ?? "",
    };

    /// <summary>
    /// Reads one whole reply from <paramref name="reader"/>; false (and the reader where it began) when the
    /// buffer does not hold all of it yet.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not RESP.</exception>
    public static bool TryRead(ref SequenceReader<byte> reader, out RespValue value)
    {
        var consumed = reader.Consumed;
        if (TryReadValue(ref reader, out var read))
        {
            value = read!;
            return true;
        }
        reader.Rewind(reader.Consumed - consumed);
        value = Nil;
        return false;
    }

    private static bool TryReadValue(ref SequenceReader<byte> reader, out RespValue? value)
    {
        value = null;
        if (!reader.TryRead(out var type) || !reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
        {
            return false;
        }
        switch (type)
        {
            case (byte)'+':
                value = new RespValue(RespKind.SimpleString) { Bytes = line.ToArray() };
                return true;
            case (byte)'-':
                value = new RespValue(RespKind.Error) { Bytes = line.ToArray() };
                return true;
            case (byte)':':
                value = new RespValue(RespKind.Integer) { Integer = ParseInteger(line) };
                return true;
            case (byte)'$':
                var length = ParseInteger(line);
                if (length < 0)
                {
                    value = Nil;
                    return true;
                }
                if (reader.Remaining < length + 2)
                {
                    return false;
                }
                var bytes = new byte[length];
                reader.TryCopyTo(bytes);
                reader.Advance(length);
                if (!reader.IsNext("\r\n"u8, advancePast: true))
                {
                    throw new InvalidDataException("a RESP bulk string does not end with CRLF");
                }
                value = new RespValue(RespKind.BulkString) { Bytes = bytes };
                return true;
            case (byte)'*':
                var count = ParseInteger(line);
                if (count < 0)
                {
                    value = Nil;
                    return true;
                }
                var items = new RespValue[count];
                for (var i = 0; i < count; i++)
                {
                    if (!TryReadValue(ref reader, out var item))
                    {
                        return false;
                    }
                    items[i] = item!;
                }
                value = new RespValue(RespKind.Array) { Items = items };
                return true;
            default:
                throw new InvalidDataException($"'{(char)type}' does not start a RESP reply");
        }
    }

    private static long ParseInteger(ReadOnlySequence<byte> line)
    {
        Span<byte> digits = stackalloc byte[24];
        if (line.Length is 0 or > 24)
        {
            throw new InvalidDataException("a RESP length or integer is not a number");
        }
        line.CopyTo(digits);
        if (!System.Buffers.Text.Utf8Parser.TryParse(digits[..(int)line.Length], out long value, out var consumed) || consumed != line.Length)
        {
            throw new InvalidDataException("a RESP length or integer is not a number");
        }
        return value;
    }
}
