// Atomic file replacement: write to a temporary file beside the target, flush to disk, then rename over
// the target. A crash at any point leaves either the old file or the new one, never a half-written file.
namespace Engram.Tensors.IO;

public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            // .NET reports a write past the process's file size limit (EFBIG) as an argument error: it is an I/O failure
            if (e is ArgumentOutOfRangeException && FromFileIo(e))
                throw new IOException($"File too large for the file system or the process's limit : '{full}'", e);
            throw;
        }
    }

    /// <summary>Whether an exception was thrown by .NET's file I/O itself (System.IO and its namespaces).</summary>
    static bool FromFileIo(Exception e) => e.TargetSite?.DeclaringType?.Namespace is { } ns
        ? ns.StartsWith("System.IO", StringComparison.Ordinal)
        : e.StackTrace?.TrimStart().StartsWith("at System.IO.", StringComparison.Ordinal) == true;

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }
}
