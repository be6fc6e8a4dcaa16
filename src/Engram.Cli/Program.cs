// Entry point of the `engram` command (EngramCli builds and runs it).
return Engram.Cli.EngramCli.Run(args);
