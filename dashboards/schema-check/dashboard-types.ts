// The type every dashboards/*.json must satisfy, built from @grafana/schema.
//
// Taken as they are from @grafana/schema: Dashboard, Panel, RowPanel, FieldConfig,
// VariableModel, and the per-plugin option types of the two panel kinds we use
// (timeseries: Options + FieldConfig "custom"; stat: Options).
// Loosened: string enums (ThresholdsMode, GraphThresholdsStyleMode, ...) become the
// union of their string values, since JSON holds "absolute", not ThresholdsMode.Absolute.
// Tightened (tenk's own choices, not Grafana's requirements):
//   - a panel is a "timeseries", a "stat" or a "row" (add a member below for a new kind);
//   - every panel has id, title, gridPos and the datasource, and Prometheus targets
//     (PrometheusTarget below: Grafana's Prometheus query keys, expr and refId required);
//   - the dashboard has uid, title, and a templating list.
import type {
  Dashboard,
  DataSourceRef,
  FieldConfig,
  FieldConfigSource,
  GridPos,
  Panel,
  RowPanel,
  VariableModel,
} from "@grafana/schema";
import type {
  FieldConfig as TimeSeriesFieldConfig,
  Options as TimeSeriesOptions,
} from "@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen";
import type { Options as StatOptions } from "@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen";

/** T with every string enum replaced by the union of its values, recursively. */
export type Loose<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Loose<U>[]
      : T extends object
        ? { [K in keyof T]: Loose<T[K]> }
        : T;

/** A Prometheus query as Grafana's Prometheus data source stores it. */
export interface PrometheusTarget {
  datasource?: DataSourceRef;
  editorMode?: "code" | "builder";
  exemplar?: boolean;
  expr: string;
  format?: "time_series" | "table" | "heatmap";
  hide?: boolean;
  instant?: boolean;
  interval?: string;
  intervalFactor?: number;
  legendFormat?: string;
  range?: boolean;
  refId: string;
}

type Defaults<Custom> = Omit<Loose<FieldConfig>, "custom"> & { custom?: Loose<Custom> };
type PanelFieldConfig<Custom> = {
  defaults: Defaults<Custom>;
  overrides: Loose<FieldConfigSource["overrides"]>;
};

type BasePanel = Omit<Loose<Panel>, "type" | "options" | "fieldConfig" | "targets" | "datasource"> & {
  id: number;
  title: string;
  gridPos: Loose<GridPos>;
  datasource: DataSourceRef;
  targets: PrometheusTarget[];
};

export type TimeSeriesPanel = BasePanel & {
  type: "timeseries";
  options: Loose<TimeSeriesOptions>;
  fieldConfig: PanelFieldConfig<TimeSeriesFieldConfig>;
};

export type StatPanel = BasePanel & {
  type: "stat";
  options: Loose<StatOptions>;
  fieldConfig: PanelFieldConfig<Record<string, never>>;
};

export type CheckedPanel = TimeSeriesPanel | StatPanel;

export type CheckedRow = Omit<Loose<RowPanel>, "panels"> & {
  type: "row";
  panels: CheckedPanel[]; // the panels of a collapsed row; [] when expanded
};

export type CheckedDashboard = Omit<Loose<Dashboard>, "panels" | "templating"> & {
  uid: string;
  title: string;
  panels: (CheckedPanel | CheckedRow)[];
  templating: { list: Loose<VariableModel>[] };
};
