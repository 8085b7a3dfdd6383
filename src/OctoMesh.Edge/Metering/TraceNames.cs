using System.Text;

namespace OctoMesh.Edge.Metering;

/// <summary>
/// The ids trace records use for names (workspaces, keys, routes, providers, models, tasks), kept in
/// <c>names.tsv</c> beside the log: one <c>id TAB name</c> line per name, appended and flushed to disk
/// before the first record that uses the id is written, never rewritten. An id is the name's FNV-1a hash,
/// moved on by one while another name holds it, so a name keeps its id for the life of the log and
/// truncating old records never loses a name. Read by the writer at start and by every reader.
/// </summary>
internal sealed class TraceNames : IDisposable
{
    public const string FileName = "names.tsv";

    /// <summary>Distinct names a log takes; past this (client-chosen model names without end), new names are traced as <see cref="Other"/>.</summary>
    public const int MaxNames = 100_000;

    public const string Other = "_other_";

    private readonly Dictionary<string, uint> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, string> _names = [];
    private FileStream? _file;

    private TraceNames()
    {
    }

    /// <summary>Opens the names of the log in <paramref name="directory"/> for writing (a torn last line from a crash is cut).</summary>
    public static TraceNames OpenForWriting(string directory)
    {
        var path = Path.Combine(directory, FileName);
        var names = new TraceNames();
        var valid = names.Load(path);
        names._file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        names._file.SetLength(valid);
        names._file.Seek(valid, SeekOrigin.Begin);
        return names;
    }

    /// <summary>Reads the names of the log in <paramref name="directory"/>.</summary>
    public static TraceNames Read(string directory)
    {
        var names = new TraceNames();
        names.Load(Path.Combine(directory, FileName));
        return names;
    }

    public int Count => _names.Count;

    /// <summary>The name of <paramref name="id"/>; empty for 0 (none), <c>#id</c> for an id the file does not hold.</summary>
    public string NameOf(uint id) => id == 0 ? "" : _names.TryGetValue(id, out var name) ? name : $"#{id}";

    /// <summary>The id of <paramref name="name"/> (0 for none), defining it durably first when it is new.</summary>
    public uint IdOf(string? name)
    {
        if (name is null)
        {
            return 0;
        }
        if (_ids.TryGetValue(name, out var id))
        {
            return id;
        }
        if (_names.Count >= MaxNames && name != Other)
        {
            return IdOf(Other);
        }
        id = Hash(name);
        while (_names.ContainsKey(id))
        {
            id = id == uint.MaxValue ? 1 : id + 1;
        }
        var line = Encoding.UTF8.GetBytes($"{id}\t{Escape(name)}\n");
        var length = _file!.Length;
        try
        {
            _file.Write(line);
            _file.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            // No half line may stay to run into the next one.
            _file.SetLength(length);
            _file.Seek(length, SeekOrigin.Begin);
            throw;
        }
        _ids[name] = id;
        _names[id] = name;
        return id;
    }

    /// <summary>Loads whole lines; returns the length of the valid part (a last line without its newline was torn by a crash).</summary>
    private long Load(string path)
    {
        if (!File.Exists(path))
        {
            return 0;
        }
        var bytes = File.ReadAllBytes(path);
        var valid = bytes.AsSpan(0, bytes.AsSpan().LastIndexOf((byte)'\n') + 1);
        foreach (var line in Encoding.UTF8.GetString(valid).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var tab = line.IndexOf('\t');
            if (tab > 0 && uint.TryParse(line.AsSpan(0, tab), out var id))
            {
                var name = Unescape(line[(tab + 1)..]);
                _names[id] = name;
                _ids[name] = id;
            }
        }
        return valid.Length;
    }

    /// <summary>FNV-1a over the name's UTF-16 code units, never 0 (which means "none").</summary>
    public static uint Hash(string name)
    {
        var hash = 2166136261u;
        foreach (var c in name)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return hash == 0 ? 1 : hash;
    }

    /// <summary>FNV-1a 64 of a request id, to correlate a record with logs without storing the id's text.</summary>
    public static ulong Hash64(string text)
    {
        var hash = 14695981039346656037ul;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211ul;
        }
        return hash;
    }

    private static string Escape(string name) => name.Replace("\\", "\\\\").Replace("\t", "\\t").Replace("\n", "\\n").Replace("\r", "\\r");

    private static string Unescape(string text)
    {
        if (!text.Contains('\\'))
        {
            return text;
        }
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length)
            {
                i++;
                result.Append(text[i] switch { 't' => '\t', 'n' => '\n', 'r' => '\r', _ => text[i] });
            }
            else
            {
                result.Append(text[i]);
            }
        }
        return result.ToString();
    }

    public void Dispose() => _file?.Dispose();
}
