//! The migration tags Jant ships, per dialect, with each journal entry's
//! `when` (`src/db/migrations{,/pg}/meta/_journal.json` of @jant/core
//! 0.10.0; jant-migrations.md). Drizzle records an applied migration as a
//! `__drizzle_migrations` row whose `created_at` is that `when`, so the
//! newest `created_at` names a database's schema tag; Jant's importer
//! refuses an archive whose `meta.json` `schema` is not one of these.

use super::sql::Dialect;

/// SQLite (Node SQLite and D1): tag, journal `when` (ms since the epoch).
pub const SQLITE: [(&str, i64); 35] = [
    ("0000_baseline", 1_773_963_783_636),
    ("0001_fts_setup", 1_773_963_784_193),
    ("0002_site_aware_core", 1_774_113_199_099),
    ("0003_fts_site_aware", 1_774_113_200_000),
    ("0004_perpetual_eternity", 1_774_449_718_456),
    ("0005_busy_the_phantom", 1_774_681_447_543),
    ("0006_adorable_magdalene", 1_774_869_631_957),
    ("0007_unusual_warstar", 1_775_027_551_353),
    ("0008_nasty_lockheed", 1_775_108_281_543),
    ("0009_clear_fixer", 1_775_277_008_096),
    ("0010_futuristic_preak", 1_775_319_683_556),
    ("0011_bizarre_smasher", 1_775_353_006_480),
    ("0012_furry_thena", 1_775_364_510_172),
    ("0013_mixed_lightspeed", 1_775_538_679_042),
    ("0014_high_the_santerians", 1_775_749_584_805),
    ("0015_skinny_shinobi_shaw", 1_775_756_690_009),
    ("0016_remarkable_nicolaos", 1_776_147_961_131),
    ("0017_powerful_moonstone", 1_776_405_286_944),
    ("0018_yummy_franklin_richards", 1_776_685_646_209),
    ("0019_bored_magus", 1_776_712_486_504),
    ("0020_free_zaladane", 1_777_225_887_121),
    ("0021_thankful_phalanx", 1_777_545_055_083),
    ("0022_old_gressill", 1_778_796_687_132),
    ("0023_broad_terror", 1_778_971_484_117),
    ("0024_red_the_twelve", 1_779_056_636_782),
    ("0025_exotic_wendell_rand", 1_779_059_129_849),
    ("0026_absent_rhodey", 1_781_807_044_475),
    ("0027_old_blue_blade", 1_784_131_420_796),
    ("0028_superb_post", 1_784_343_829_687),
    ("0029_boring_magma", 1_784_436_800_925),
    ("0030_typical_vivisector", 1_784_531_387_046),
    ("0031_many_ego", 1_786_008_661_047),
    ("0032_married_tomas", 1_786_069_142_968),
    ("0033_busy_johnny_storm", 1_787_282_380_098),
    ("0034_cheerful_rumiko_fujikawa", 1_787_425_825_762),
];

/// Postgres: tag, journal `when`.
pub const PG: [(&str, i64); 33] = [
    ("0000_pg_site_aware_baseline", 1_774_127_153_796),
    ("0001_pg_search_support", 1_774_138_110_172),
    ("0002_breezy_lockjaw", 1_774_449_718_468),
    ("0003_motionless_norrin_radd", 1_774_681_447_549),
    ("0004_nervous_captain_midlands", 1_774_869_651_950),
    ("0005_romantic_mesmero", 1_775_027_563_589),
    ("0006_perpetual_bruce_banner", 1_775_108_281_543),
    ("0007_nav_item_placement", 1_775_368_800_000),
    ("0008_yielding_frightful_four", 1_775_369_700_000),
    ("0009_outstanding_ogun", 1_775_369_800_000),
    ("0010_overjoyed_gertrude_yorkes", 1_775_369_900_000),
    ("0011_fixed_hulk", 1_775_538_682_750),
    ("0012_cute_shockwave", 1_775_749_590_270),
    ("0013_bizarre_obadiah_stane", 1_775_756_694_875),
    ("0014_tearful_grim_reaper", 1_776_147_972_118),
    ("0015_daffy_mikhail_rasputin", 1_776_405_301_273),
    ("0016_familiar_lionheart", 1_776_685_653_392),
    ("0017_bright_beyonder", 1_776_712_494_794),
    ("0018_red_warlock", 1_777_225_891_222),
    ("0019_gray_natasha_romanoff", 1_777_545_080_191),
    ("0020_bizarre_smasher", 1_778_796_689_691),
    ("0021_sharp_puppet_master", 1_778_971_491_254),
    ("0022_blushing_blue_shield", 1_779_056_638_164),
    ("0023_organic_zemo", 1_779_059_130_438),
    ("0024_high_violations", 1_781_807_044_981),
    ("0025_moaning_epoch", 1_784_131_458_842),
    ("0026_talented_killer_shrike", 1_784_343_834_845),
    ("0027_short_cannonball", 1_784_436_805_462),
    ("0028_perfect_sharon_carter", 1_784_531_392_184),
    ("0029_rare_hairball", 1_786_008_671_529),
    ("0030_abandoned_nighthawk", 1_786_069_149_825),
    ("0031_strong_ultimatum", 1_787_282_384_249),
    ("0032_furry_multiple_man", 1_787_425_868_269),
];

fn journal(d: Dialect) -> &'static [(&'static str, i64)] {
    match d {
        Dialect::Sqlite => &SQLITE,
        Dialect::Pg => &PG,
    }
}

/// Whether Jant ships migration `tag` for dialect `d`.
pub fn ships(d: Dialect, tag: &str) -> bool {
    journal(d).iter().any(|(t, _)| *t == tag)
}

/// The newest tag Jant ships for `d`.
pub fn newest(d: Dialect) -> &'static str {
    journal(d).last().map_or("", |(t, _)| t)
}

/// The tag of the migration drizzle recorded with `created_at` = `when`.
pub fn tag_of_when(d: Dialect, when: i64) -> Option<&'static str> {
    journal(d).iter().find(|(_, w)| *w == when).map(|(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journals_map_whens_to_tags() {
        assert_eq!(newest(Dialect::Sqlite), "0034_cheerful_rumiko_fujikawa");
        assert_eq!(newest(Dialect::Pg), "0032_furry_multiple_man");
        assert_eq!(
            tag_of_when(Dialect::Sqlite, 1_773_963_783_636),
            Some("0000_baseline")
        );
        assert_eq!(
            tag_of_when(Dialect::Pg, 1_774_127_153_796),
            Some("0000_pg_site_aware_baseline")
        );
        assert_eq!(tag_of_when(Dialect::Pg, 1_773_963_783_636), None);
        assert!(ships(Dialect::Sqlite, "0001_fts_setup") && !ships(Dialect::Pg, "0001_fts_setup"));
        // Journals are in time order, as drizzle applies them.
        for j in [&SQLITE[..], &PG[..]] {
            assert!(j.windows(2).all(|w| w[0].1 < w[1].1));
        }
    }
}
