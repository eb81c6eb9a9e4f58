//! A live Postgres database as a source (built in the next step).

use super::{DatabaseSource, RowSink};
use crate::error::{Error, Result};
use crate::schema::SchemaObject;
use crate::snapshot::SourceInfo;

pub struct PostgresSource {
    url: String,
}

impl PostgresSource {
    pub fn connect(url: &str) -> Result<PostgresSource> {
        Err(Error::Invalid(format!(
            "postgres source not built yet: {}",
            crate::jant::env::mask_url(url)
        )))
    }
}

impl DatabaseSource for PostgresSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "pg".into(),
            id: self.url.clone(),
            description: self.url.clone(),
        }
    }
    fn dialect(&self) -> &'static str {
        "pg"
    }
    fn begin(&mut self, _w: &mut Vec<String>) -> Result<Vec<SchemaObject>> {
        Err(Error::Invalid("not built".into()))
    }
    fn rows(&mut self, _t: &SchemaObject, _s: &mut dyn RowSink) -> Result<()> {
        Err(Error::Invalid("not built".into()))
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
