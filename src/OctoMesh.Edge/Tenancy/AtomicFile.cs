using System.Text.Json;

namespace OctoMesh.Edge.Tenancy;

/// <summary>Small JSON state files replaced whole: written beside, flushed to the disk, renamed over.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="path"/> (readable by this user alone) so that a crash at any point leaves the old file or
    /// the new one, never a mix: rename is atomic on POSIX file systems.
    /// </summary>
    public static void WriteJson(string path, Action<Utf8JsonWriter> write)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        Replace(path, Private(FileMode.Create), file =>
        {
            using var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
            write(json);
        });
    }

    /// <summary>
    /// Replaces a text file the same way (the configuration, rewritten by <c>octomesh optimize --apply</c>): through a
    /// symbolic link to the file it names, keeping the file's permissions.
    /// </summary>
    public static void WriteText(string path, string text)
    {
        var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
        UnixFileMode? mode = !OperatingSystem.IsWindows() && File.Exists(target) ? File.GetUnixFileMode(target) : null;
        Replace(target, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write },
            file => file.Write(System.Text.Encoding.UTF8.GetBytes(text)), mode);
    }

    /// <summary>Written beside, flushed to the disk, given <paramref name="mode"/> when one is said, renamed over.</summary>
    private static void Replace(string path, FileStreamOptions options, Action<Stream> write, UnixFileMode? mode = null)
    {
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, options))
        {
            write(file);
            file.Flush(flushToDisk: true);
        }
        if (mode is { } kept && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, kept);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Options to write a file only this user can read or write (0600) when it is created.</summary>
    public static FileStreamOptions Private(FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        return options;
    }
}
