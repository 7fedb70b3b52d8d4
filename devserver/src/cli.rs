//! Command-line options.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::auth::jwt::DEFAULT_JWT_SECRET;
use crate::faults::{FaultSettings, RealtimeFault};

/// A local Supabase-compatible backend: auth, a PostgREST subset, Realtime, fault injection.
#[derive(Debug, Clone, Parser)]
#[command(name = "devserver", version)]
pub struct Cli {
    /// Port to listen on; 0 picks a free one. Defaults to 54321.
    #[arg(long, default_value_t = 54321)]
    pub port: u16,

    /// Address to listen on. Defaults to 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Folder for `devserver.sqlite3`. Defaults to ./.devserver-data.
    #[arg(long, default_value = "./.devserver-data")]
    pub data_dir: PathBuf,

    /// Keep the database in memory (for tests); turns the simulator off unless --simulate.
    #[arg(long)]
    pub memory: bool,

    /// JWT secret. Defaults to Supabase's local development secret.
    #[arg(long, env = "DEVSERVER_JWT_SECRET", default_value = DEFAULT_JWT_SECRET, hide_env_values = true)]
    pub jwt_secret: String,

    /// Run the status simulator even with --memory.
    #[arg(long, overrides_with = "no_simulate")]
    pub simulate: bool,

    /// Do not run the status simulator.
    #[arg(long, overrides_with = "simulate")]
    pub no_simulate: bool,

    /// Milliseconds between simulator steps. Defaults to 4000.
    #[arg(long, default_value_t = 4000)]
    pub simulate_every_ms: u64,

    /// Realtime fault at start: ok, refuse or silent. Defaults to ok.
    #[arg(long, value_enum, default_value_t = RealtimeFault::Ok)]
    pub realtime_fault: RealtimeFault,

    /// Delay added to every /rest/v1 response, in milliseconds. Defaults to 0.
    #[arg(long, default_value_t = 0)]
    pub rest_delay_ms: u64,

    /// Fraction of /rest/v1 requests failed with 503, 0.0 to 1.0. Defaults to 0.0.
    #[arg(long, default_value_t = 0.0)]
    pub rest_fail_rate: f64,
}

impl Cli {
    /// Whether the simulator runs: on by default, off under `--memory`, forced by the flags.
    pub fn simulator_enabled(&self) -> bool {
        if self.simulate {
            true
        } else if self.no_simulate {
            false
        } else {
            !self.memory
        }
    }

    /// The fault settings asked for at start.
    pub fn fault_settings(&self) -> FaultSettings {
        FaultSettings {
            realtime: self.realtime_fault,
            rest_delay_ms: self.rest_delay_ms,
            rest_fail_rate: self.rest_fail_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("devserver").chain(args.iter().copied()))
            .expect("valid arguments")
    }

    #[test]
    fn defaults_and_simulator_switches() {
        let cli = parse(&[]);
        assert_eq!(cli.port, 54321);
        assert!(cli.simulator_enabled());
        assert!(!parse(&["--memory"]).simulator_enabled());
        assert!(parse(&["--memory", "--simulate"]).simulator_enabled());
        assert!(!parse(&["--no-simulate"]).simulator_enabled());
        assert!(parse(&["--no-simulate", "--simulate"]).simulator_enabled());
    }

    #[test]
    fn fault_flags() {
        let cli = parse(&[
            "--realtime-fault",
            "silent",
            "--rest-delay-ms",
            "250",
            "--rest-fail-rate",
            "0.5",
        ]);
        assert_eq!(
            cli.fault_settings(),
            FaultSettings {
                realtime: RealtimeFault::Silent,
                rest_delay_ms: 250,
                rest_fail_rate: 0.5
            }
        );
        assert!(Cli::try_parse_from(["devserver", "--realtime-fault", "maybe"]).is_err());
    }
}
