// The audit log of a brain: an append-only SQLite database (audit.sqlite in the brain folder) with one row per update —
// version and parent, time, kind and source, the stream position it started at, the bytes learned (kept whole, with
// their SHA-256), loss before and after, the norm of the slow-weight change, probe figures, accepted or rejected and
// why, and the SHA-256 of the learner's whole state after it. Triggers refuse UPDATE and DELETE, so history is only
// ever added to. Versions form a tree: each accepted update's parent is the version it was applied to (a rollback
// is an update with no bytes whose parent is the version rolled back to); a rejected update keeps its number, and
// nothing descends from it.
using System.Globalization;
using System.Security.Cryptography;
using Engram.Tensors;
using Microsoft.Data.Sqlite;

namespace Engram.Safety;

/// <summary>What kind of update a record is.</summary>
public static class UpdateKind
{
    /// <summary>Version 0: the brain as it was when its log began (new, or a brain learned before it had a log).</summary>
    public const string Origin = "origin";
    public const string Learn = "learn";
    public const string Chat = "chat";
    public const string Lesson = "lesson";
    /// <summary>No bytes: the brain returned to its parent version.</summary>
    public const string Rollback = "rollback";

    /// <summary>Kinds whose bytes are learned (and replayed).</summary>
    public static bool Learns(string kind) => kind is Learn or Chat or Lesson;
}

/// <summary>One update of a brain, as the log keeps it.</summary>
public sealed record AuditRecord
{
    public long Version { get; init; }
    /// <summary>The version this update was applied to; null for the origin.</summary>
    public long? Parent { get; init; }
    public DateTime Time { get; init; }
    public required string Kind { get; init; }
    /// <summary>Where the bytes came from: a file, "stdin", "chat", a lesson's id, "rollback".</summary>
    public required string Source { get; init; }
    /// <summary>Stream position (bytes read) before the update.</summary>
    public long Position { get; init; }
    public byte[] Data { get; init; } = [];
    /// <summary>The bytes learned (Data, or the stored count when read without them).</summary>
    public long Bytes => StoredBytes ?? Data.Length;
    public string Sha256 => StoredSha256 ?? Convert.ToHexStringLower(SHA256.HashData(Data));
    internal long? StoredBytes { get; init; }
    internal string? StoredSha256 { get; init; }
    /// <summary>Bits per byte of the update's bytes as predicted before learning them (the prequential loss).</summary>
    public double? LossBefore { get; init; }
    /// <summary>Bits per byte of the same bytes read again right after learning them, without learning.</summary>
    public double? LossAfter { get; init; }
    /// <summary>‖θ_after − θ_before‖₂ over the slow weights.</summary>
    public double? UpdateNorm { get; init; }
    /// <summary>Probe figures (JSON) when the update was probed.</summary>
    public string? Probe { get; init; }
    public bool Accepted { get; init; } = true;
    public string? Reason { get; init; }
    /// <summary>Brain.Hash of the learner after the update (null when rejected).</summary>
    public string? StateHash { get; init; }
}

public sealed class AuditLog : IDisposable
{
    public const string FileName = "audit.sqlite";
    readonly SqliteConnection _db;
    readonly string _path;

    AuditLog(SqliteConnection db, string path) { _db = db; _path = path; }

    public static bool Exists(string dir) => File.Exists(Path.Combine(dir, FileName));

    /// <summary>Opens (or, unless readOnly, creates) the log in a brain folder. A file that is not a readable SQLite
    /// database, or one with another layout, is refused with a one-line error naming it.</summary>
    public static AuditLog Open(string dir, bool readOnly = false)
    {
        var path = Path.Combine(dir, FileName);
        if (readOnly && !File.Exists(path)) throw new InvalidFileException($"{path}: the brain has no audit log");
        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = path, Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate, Pooling = false,
            DefaultTimeout = 5,
        }.ToString();
        var db = new SqliteConnection(cs);
        try
        {
            db.Open();
            var log = new AuditLog(db, path);
            if (!readOnly) log.Execute(Schema);
            log.Execute("PRAGMA busy_timeout = 2000");
            log.CheckLayout();
            return log;
        }
        catch (SqliteException e)
        {
            db.Dispose();
            throw new InvalidFileException(e.SqliteErrorCode is 5 or 6 // SQLITE_BUSY, SQLITE_LOCKED
                ? $"{path}: the audit log is locked by another process"
                : $"{path}: the audit log is unreadable or not an Engram audit log ({FirstLine(e.Message)})");
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();

    const string Schema = """
        CREATE TABLE IF NOT EXISTS updates(
            version INTEGER PRIMARY KEY,
            parent INTEGER,
            time TEXT NOT NULL,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            position INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            data BLOB NOT NULL,
            loss_before REAL,
            loss_after REAL,
            update_norm REAL,
            probe TEXT,
            accepted INTEGER NOT NULL,
            reason TEXT,
            state_hash TEXT);
        CREATE TRIGGER IF NOT EXISTS updates_append_only_update BEFORE UPDATE ON updates
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS updates_append_only_delete BEFORE DELETE ON updates
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """;

    void CheckLayout()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT name FROM pragma_table_info('updates')";
        var columns = new HashSet<string>();
        using (var r = cmd.ExecuteReader()) while (r.Read()) columns.Add(r.GetString(0));
        foreach (var need in new[] { "version", "parent", "kind", "data", "accepted", "state_hash" })
            if (!columns.Contains(need)) throw new InvalidFileException($"{_path}: not an Engram audit log (no column '{need}')");
    }

    void Execute(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Appends a record (its Version must be the next free number) and commits it to disk.</summary>
    public AuditRecord Append(AuditRecord r)
    {
        long expected = (Last()?.Version ?? -1) + 1;
        if (r.Version != expected) throw new InvalidOperationException($"AuditLog.Append: version {r.Version}, expected {expected}");
        using var tx = _db.BeginTransaction();
        using var cmd = _db.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            INSERT INTO updates(version, parent, time, kind, source, position, bytes, sha256, data, loss_before, loss_after,
                update_norm, probe, accepted, reason, state_hash)
            VALUES($v, $p, $t, $k, $s, $pos, $n, $sha, $d, $lb, $la, $un, $probe, $acc, $why, $hash)
            """;
        object Db(object? x) => x ?? DBNull.Value;
        cmd.Parameters.AddWithValue("$v", r.Version);
        cmd.Parameters.AddWithValue("$p", Db(r.Parent));
        cmd.Parameters.AddWithValue("$t", r.Time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue("$k", r.Kind);
        cmd.Parameters.AddWithValue("$s", r.Source);
        cmd.Parameters.AddWithValue("$pos", r.Position);
        cmd.Parameters.AddWithValue("$n", r.Bytes);
        cmd.Parameters.AddWithValue("$sha", r.Sha256);
        cmd.Parameters.AddWithValue("$d", r.Data);
        cmd.Parameters.AddWithValue("$lb", Db(Finite(r.LossBefore)));
        cmd.Parameters.AddWithValue("$la", Db(Finite(r.LossAfter)));
        cmd.Parameters.AddWithValue("$un", Db(Finite(r.UpdateNorm)));
        cmd.Parameters.AddWithValue("$probe", Db(r.Probe));
        cmd.Parameters.AddWithValue("$acc", r.Accepted ? 1 : 0);
        cmd.Parameters.AddWithValue("$why", Db(r.Reason));
        cmd.Parameters.AddWithValue("$hash", Db(r.StateHash));
        try
        {
            cmd.ExecuteNonQuery();
            tx.Commit();
        }
        catch (SqliteException e)
        {
            throw new IOException($"{_path}: could not append to the audit log ({FirstLine(e.Message)})", e);
        }
        return r;
    }

    static object? Finite(double? x) => x is double d && double.IsFinite(d) ? d : null;

    /// <summary>The record of a version, or null when the log has none.</summary>
    public AuditRecord? Get(long version, bool withData = true) =>
        Query("WHERE version = $v", ("$v", version), withData).FirstOrDefault();

    /// <summary>The newest record (accepted or not).</summary>
    public AuditRecord? Last() => Query("ORDER BY version DESC LIMIT 1").FirstOrDefault();

    /// <summary>The newest accepted version: the brain's current version.</summary>
    public AuditRecord? Head() => Query("WHERE accepted = 1 ORDER BY version DESC LIMIT 1").FirstOrDefault();

    /// <summary>Every record, oldest first; without their bytes unless asked.</summary>
    public IReadOnlyList<AuditRecord> All(bool withData = false) => Query("ORDER BY version", withData: withData);

    public long Count()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM updates";
        try { return (long)cmd.ExecuteScalar()!; }
        catch (SqliteException e) { throw new InvalidFileException($"{_path}: the audit log is corrupt ({FirstLine(e.Message)})"); }
    }

    /// <summary>The versions from `version` back to the origin along parents (version first), without their bytes
    /// (Get(version) reads them, for the records a replay needs).</summary>
    public IReadOnlyList<AuditRecord> Ancestry(long version)
    {
        var chain = new List<AuditRecord>();
        long? at = version;
        while (at is long v)
        {
            var r = Get(v, withData: false) ?? throw new InvalidFileException($"{_path}: version {v} is not in the audit log");
            if (!r.Accepted) throw new InvalidFileException($"{_path}: version {v} was rejected; no brain has it");
            if (chain.Count > 0 && v >= chain[^1].Version) throw new InvalidFileException($"{_path}: version {v} is its own ancestor");
            chain.Add(r);
            at = r.Parent;
        }
        return chain;
    }

    List<AuditRecord> Query(string where, (string Name, object Value)? arg = null, bool withData = true)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT version, parent, time, kind, source, position, " + (withData ? "data" : "zeroblob(0)") +
            ", loss_before, loss_after, update_norm, probe, accepted, reason, state_hash, sha256, bytes FROM updates " + where;
        if (arg is var (n, v)) cmd.Parameters.AddWithValue(n, v);
        var list = new List<AuditRecord>();
        try
        {
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                double? D(int i) => r.IsDBNull(i) ? null : r.GetDouble(i);
                string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
                var data = (byte[])r.GetValue(6);
                var rec = new AuditRecord
                {
                    Version = r.GetInt64(0), Parent = r.IsDBNull(1) ? null : r.GetInt64(1),
                    Time = DateTime.Parse(r.GetString(2), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                    Kind = r.GetString(3), Source = r.GetString(4), Position = r.GetInt64(5), Data = data,
                    LossBefore = D(7), LossAfter = D(8), UpdateNorm = D(9), Probe = S(10), Accepted = r.GetInt64(11) != 0,
                    Reason = S(12), StateHash = S(13),
                };
                if (withData && rec.Sha256 != r.GetString(14))
                    throw new InvalidFileException($"{_path}: the bytes of version {rec.Version} do not match their SHA-256");
                list.Add(withData ? rec : rec with { Data = [], StoredBytes = r.GetInt64(15), StoredSha256 = r.GetString(14) });
            }
        }
        catch (Exception e) when (e is SqliteException or FormatException or InvalidCastException)
        {
            throw new InvalidFileException($"{_path}: the audit log is corrupt ({FirstLine(e.Message)})");
        }
        return list;
    }

    public void Dispose() => _db.Dispose();
}
